package dev.microgpt.checkpoint;

import java.nio.file.Path;

/**
 * The process {@link CheckpointKillTest} kills: rewrites one checkpoint over and over, step after step, announcing
 * each completed write on stdout, until it is killed.
 */
final class CheckpointRewriter {

    private CheckpointRewriter() {
    }

    /** {@code args[0]}: the checkpoint to rewrite; {@code args[1]}: the seed of its {@link TestCheckpoints#random}. */
    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        Checkpoint checkpoint = TestCheckpoints.random(TestCheckpoints.WIDE, DType.F64, Long.parseLong(args[1]));
        for (int step = 0; ; step = (step + 1) % (checkpoint.totalSteps() + 1)) {
            CheckpointFile.write(path, TestCheckpoints.atStep(checkpoint, step));
            System.out.println("wrote step " + step);
            System.out.flush();
        }
    }
}
