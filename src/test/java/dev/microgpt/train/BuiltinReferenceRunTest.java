package dev.microgpt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.microgpt.testing.BuiltinDataset;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The port against the original, with nothing from beside the checkout: microgpt.py's own run on the built-in
 * names (16/16, seed 42, 1000 steps), recorded in src/test/resources/reference by generate.py running Karpathy's
 * script (restored there, and checked to reproduce the run on makemore's names.txt exactly), replayed loss by
 * loss (each within 1e-6; the largest difference is printed) and sample by sample.
 */
class BuiltinReferenceRunTest {

    private static final String REFERENCE = "/reference/builtin_names_16x16_seed42_";

    @Test
    void fastEngineReproducesEveryLossAndEverySample() throws IOException {
        double[] expected = MicrogptReplay.parseLosses(resourceLines("losses.txt"));
        assertEquals(MicrogptReplay.STEPS, expected.length);
        TrainingRun run = MicrogptReplay.prepare(BuiltinDataset.documents());
        assertEquals(4099, run.documents().size()); // as microgpt.py printed: num docs 4099, vocab size 27, num params 4192
        assertEquals(27, run.tokenizer().vocabSize());
        assertEquals(4192, run.layout().size());

        MicrogptReplay.Run replay = MicrogptReplay.fastEngine(run);
        MicrogptReplay.assertLossesMatch("fast (built-in names)", expected, replay.losses(), MicrogptReplay.STEPS);
        assertEquals(resourceLines("samples.txt"), replay.samples());
    }

    private static List<String> resourceLines(String suffix) throws IOException {
        try (InputStream in = BuiltinReferenceRunTest.class.getResourceAsStream(REFERENCE + suffix)) {
            assertNotNull(in, REFERENCE + suffix + " is not on the test class path");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }
}
