package dev.microgpt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.microgpt.engine.DocumentBatch;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which documents a step trains on: microgpt.py's shuffled order, walked B at a time. */
class TrainingRunTest {

    @Test
    void stepSTrainsOnDocumentsSTimesBToSTimesBPlusBMinusOneWrappingAround() {
        List<String> names = List.of("ava", "bo", "cy", "dee", "emmanuelle", "fa", "gus");
        TrainingRun run = TrainingRun.prepare(names, new TrainingRun.Shape(8, 2, 1, 8), 42);
        DocumentBatch batch = new DocumentBatch(3);
        for (int step : new int[] {0, 1, 2, 5, 1000}) {
            run.fill(batch, step);
            for (int b = 0; b < 3; b++) {
                int[] expected = run.tokens()[(step * 3 + b) % names.size()];
                assertSame(expected, batch.tokens(b), "step " + step + ", document " + b);
                assertEquals(Math.min(8, expected.length - 1), batch.positions(b), "truncated to the block");
            }
        }
        DocumentBatch one = new DocumentBatch(1);
        for (int step = 0; step < 10; step++) {
            run.fill(one, step);
            assertSame(run.tokens()[step % names.size()], one.tokens(0), "one document a step is microgpt.py's order");
        }
    }
}
