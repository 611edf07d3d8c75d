package dev.microgpt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.microgpt.model.ParameterLayout;
import dev.microgpt.model.Tokenizer;
import dev.microgpt.rng.PyRandom;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Sampling at the edges of the temperature's range. */
class SamplerTest {

    /**
     * A temperature so small that logits / temperature overflows samples its limit, the likeliest token each time,
     * as a merely tiny one does (where softmax is already one-hot), instead of failing on NaN weights.
     */
    @Test
    void aTemperatureThatOverflowsTheLogitsSamplesTheLikeliestTokens() {
        Tokenizer tokenizer = Tokenizer.fromDocuments(List.of("abcdefghij", "klmnopqrst"));
        ParameterLayout layout = new ParameterLayout(TrainingRun.Shape.MICROGPT.withVocabulary(tokenizer.vocabSize()));
        Random random = new Random(5);
        double[] params = new double[layout.size()];
        for (int i = 0; i < params.length; i++) {
            params[i] = random.nextGaussian() * 0.5; // logits far apart, so one token is clearly likeliest
        }
        try (Sampler sampler = new Sampler(layout, params, tokenizer)) {
            String greedy = sampler.sample(new PyRandom(1), 1e-12, "");
            assertEquals(greedy, sampler.sample(new PyRandom(2), Double.MIN_VALUE, ""));
            assertEquals(greedy, sampler.sample(new PyRandom(3), Double.MIN_NORMAL, ""));
        }
    }
}
