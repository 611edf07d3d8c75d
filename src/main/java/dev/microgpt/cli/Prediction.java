package dev.microgpt.cli;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.model.ModelConfig;
import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import dev.microgpt.train.Sampler;
import java.io.IOException;

/** --predict: samples from a checkpoint without training or a dataset. */
final class Prediction {

    private Prediction() {
    }

    static int run(Main options) throws IOException {
        Checkpoint checkpoint = CheckpointFile.read(options.checkpoint);
        ModelConfig config = checkpoint.config();
        Reconcile.shape(options, config);
        Tokenizer tokenizer = Tokenizer.fromVocabulary(checkpoint.vocabulary());
        Samples.requireSamplablePrefix(tokenizer, config.blockSize(), options);
        // Unless reseeded, the generator continues from where training left it: the samples then equal those the
        // training run printed (or would have printed) at the checkpoint's step.
        PyRandom rng;
        if (options.given("--seed")) {
            rng = new PyRandom(options.seed);
        } else {
            rng = new PyRandom(checkpoint.seed());
            rng.restore(checkpoint.rng());
        }
        Main.LOG.info("sampling from {} (step {} of {})", options.checkpoint, checkpoint.step(), checkpoint.totalSteps());
        Samples.print(new Sampler(new ParameterLayout(config), checkpoint.params(), tokenizer), rng, options);
        return 0;
    }
}
