package dev.microgpt.cli;

import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import dev.microgpt.train.Sampler;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/** Prints samples to stdout as microgpt.py does: {@code sample  1: kamon}. */
final class Samples {

    private Samples() {
    }

    /** The --prefix check, before any training: a prefix the vocabulary cannot sample is a usage error. */
    static void requireSamplablePrefix(Tokenizer tokenizer, int blockSize, RunOptions.Sampling sampling) {
        try {
            Sampler.checkPrefix(tokenizer, blockSize, sampling.prefix());
        } catch (IllegalArgumentException e) {
            throw new UsageException("--prefix " + e.getMessage());
        }
    }

    /**
     * Prints the samples, each flushed as it is drawn, and stops at the first that cannot be written (stdout closed, as
     * by {@code | head}, or its disk full): then returns a line saying which sample was lost, else null.
     */
    static String print(Sampler sampler, PyRandom rng, RunOptions.Sampling sampling) {
        PrintWriter out = new PrintWriter(System.out, false, StandardCharsets.UTF_8);
        for (int i = 1; i <= sampling.count(); i++) {
            out.printf("sample %2d: %s%n", i, sampler.sample(rng, sampling.temperature(), sampling.prefix()));
            if (out.checkError()) { // flushes, so a closed or full stdout shows at once
                return "cannot write the samples to standard output (it was closed, or its disk is full): sample " + i
                        + " of " + sampling.count() + " was lost, and the rest were not drawn";
            }
        }
        return null;
    }
}
