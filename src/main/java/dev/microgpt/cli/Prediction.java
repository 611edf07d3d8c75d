package dev.microgpt.cli;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import dev.microgpt.train.Sampler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** --predict: samples from a checkpoint without training or a dataset. */
final class Prediction {

    private Prediction() {
    }

    static int run(RunOptions options) throws IOException {
        Path file = options.saving().checkpoint();
        if (!Files.exists(file)) {
            throw new RunFailure("no checkpoint at " + file + " to sample from; pass --checkpoint FILE written by a"
                    + " training run");
        }
        Checkpoint checkpoint = CheckpointFile.read(file);
        ModelConfig config = checkpoint.config();
        Reconcile.shape(options.explicit(), config, file);
        Tokenizer tokenizer = Tokenizer.fromVocabulary(checkpoint.vocabulary());
        Samples.requireSamplablePrefix(tokenizer, config.blockSize(), options.sampling());
        // Unless reseeded, the generator continues from where training left it: the samples then equal those the
        // training run printed (or would have printed) at the checkpoint's step.
        Long reseed = options.explicit().seed();
        PyRandom rng = new PyRandom(reseed != null ? reseed : checkpoint.seed());
        if (reseed == null) {
            rng.restore(checkpoint.rng());
        }
        if (options.device().device() == Main.Device.gpu) {
            Main.LOG.info("--device gpu: sampling runs on the CPU, as after GPU training (20 samples take milliseconds)");
        }
        Main.LOG.info("sampling from {} (step {} of {}{})", file, checkpoint.step(), checkpoint.totalSteps(),
                Double.isNaN(checkpoint.loss()) ? "" : String.format(Locale.ROOT, ", loss %.4f", checkpoint.loss()));
        String lost;
        try (Sampler sampler = new Sampler(new ParameterLayout(config), checkpoint.params(), tokenizer)) {
            lost = Samples.print(sampler, rng, options.sampling());
        }
        if (lost != null) {
            throw new RunFailure(lost);
        }
        return 0;
    }
}
