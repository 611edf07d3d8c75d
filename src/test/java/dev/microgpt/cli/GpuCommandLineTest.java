package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.checkpoint.DType;
import dev.microgpt.cli.CommandLineRunner.Result;
import dev.microgpt.gpu.GpuSupport;
import dev.microgpt.testing.RequiresCublas;
import dev.microgpt.testing.RequiresGpu;
import dev.microgpt.testing.BuiltinDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line on the GPU: what ./run-gpu.sh --n-embd 64 --block-size 64 does, and checkpoints across engines. */
@RequiresGpu
class GpuCommandLineTest {

    @TempDir
    Path dir;

    @Test
    void trainsAt64On64AndItsCheckpointResumesOnTheCpu() throws Exception {
        String names = BuiltinDataset.writeTo(dir).toString();
        Result gpu = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--n-embd", "64", "--block-size",
                "64", "--steps", "300", "--stop-after", "200", "--checkpoint", "g.safetensors", "--metrics", "g.csv");
        assertEquals(0, gpu.exitCode(), gpu.stderr());
        assertTrue(gpu.stderr().contains("device gpu: "), gpu.stderr());
        assertTrue(gpu.stderr().contains("gpu mode: graph (the fastest for 1 document per step)"), gpu.stderr());
        Checkpoint saved = CheckpointFile.read(dir.resolve("g.safetensors"));
        assertEquals(DType.F32, saved.dtype());
        assertEquals(200, saved.step());

        Result cpu = CommandLineRunner.run(dir, "--input", names, "--device", "cpu", "--resume", "--checkpoint",
                "g.safetensors", "--quiet");
        assertEquals(0, cpu.exitCode(), cpu.stderr());
        assertTrue(cpu.stderr().contains("was trained in float32 (the GPU) and goes on in float64 (the CPU)"),
                "the switch of precision is said, even with --quiet: " + cpu.stderr());
        assertEquals(20, cpu.stdout().lines().filter(l -> l.matches("sample [ 12][0-9]: [a-z]*")).count(), cpu.stdout());
    }

    /**
     * A GPU run stopped and resumed on the GPU goes on as the run that never stopped, bit for bit (its float32 state
     * is the checkpoint's, and the kernels add in a fixed order, with no atomics), and --predict samples from its
     * checkpoint.
     */
    @Test
    void resumesOnTheGpuWhereItStoppedAndPredictsFromItsCheckpoint() throws Exception {
        String names = BuiltinDataset.writeTo(dir).toString();
        Result whole = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--steps", "60", "--metrics",
                "whole.csv", "--quiet");
        assertEquals(0, whole.exitCode(), whole.stderr());
        Result first = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--steps", "60", "--stop-after",
                "30", "--checkpoint", "part.safetensors", "--metrics", "part.csv", "--quiet");
        assertEquals(0, first.exitCode(), first.stderr());
        Result rest = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--resume", "--checkpoint",
                "part.safetensors", "--metrics", "part.csv", "--quiet");
        assertEquals(0, rest.exitCode(), rest.stderr());
        List<String> expected = Files.readAllLines(dir.resolve("whole.csv"));
        List<String> resumed = Files.readAllLines(dir.resolve("part.csv"));
        assertEquals(expected.size(), resumed.size(), "metrics rows");
        for (int row = 1; row < expected.size(); row++) {
            assertEquals(loss(expected.get(row)), loss(resumed.get(row)), 0.0, "loss at step " + row);
        }
        Result predicted = CommandLineRunner.run(dir, "--predict", "--checkpoint", "part.safetensors", "--num-samples",
                "5");
        assertEquals(0, predicted.exitCode(), predicted.stderr());
        assertEquals(5, predicted.stdout().lines().filter(l -> l.matches("sample +[0-9]+: [a-z]*")).count(),
                predicted.stdout());
    }

    /**
     * --batch-size on the GPU: 8 documents a step follow the CPU engine's steps of 8, in the fused mode, the default
     * for several documents a step, also where the batch size comes from the checkpoint of a resumed run.
     */
    @Test
    void trainsBatchesOfDocumentsAsTheCpuDoes() throws Exception {
        String names = BuiltinDataset.writeTo(dir).toString();
        Result first = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--batch-size", "8", "--steps",
                "30", "--stop-after", "20", "--checkpoint", "gpu.safetensors", "--metrics", "gpu.csv");
        assertEquals(0, first.exitCode(), first.stderr());
        assertTrue(first.stderr().contains("batch size: 8 documents a step"), first.stderr());
        assertTrue(first.stderr().contains("gpu mode: fused (the fastest for 8 documents per step)"), first.stderr());
        Result tooMany = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--resume", "--checkpoint",
                "gpu.safetensors", "--steps-per-launch", "64");
        assertEquals(2, tooMany.exitCode(), tooMany.stderr()); // the checkpoint's batch size is checked, not 1
        assertTrue(tooMany.stderr().contains("--steps-per-launch 64 with --batch-size 8")
                && tooMany.stderr().contains("(--batch-size 8 is the checkpoint's)"), tooMany.stderr());
        Result gpu = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--resume", "--checkpoint",
                "gpu.safetensors", "--metrics", "gpu.csv", "--num-samples", "3");
        assertEquals(0, gpu.exitCode(), gpu.stderr());
        assertTrue(gpu.stderr().contains("gpu mode: fused (the fastest for 8 documents per step)"), gpu.stderr());
        Result cpu = CommandLineRunner.run(dir, "--input", names, "--device", "cpu", "--batch-size", "8", "--steps",
                "30", "--metrics", "cpu.csv", "--quiet");
        assertEquals(0, cpu.exitCode(), cpu.stderr());
        List<String> g = Files.readAllLines(dir.resolve("gpu.csv"));
        List<String> c = Files.readAllLines(dir.resolve("cpu.csv"));
        assertEquals(31, g.size(), "metrics rows");
        for (int row = 1; row < c.size(); row++) {
            assertEquals(loss(c.get(row)), loss(g.get(row)), 2e-3, "loss at step " + row);
        }
    }

    /**
     * --device auto never trains on the emulated device: it runs the kernels on the CPU, far slower than the CPU engine.
     * Asked where the GPU would pay, from 64/64 or from 128 documents a step, auto says so.
     */
    @Test
    void deviceAutoLeavesTheEmulatedDeviceAlone() throws Exception {
        assumeTrue(GpuSupport.status().emulated(), "the GPU here is not the emulated device");
        String names = BuiltinDataset.writeTo(dir).toString();
        for (List<String> large : List.of(List.of("--n-embd", "64", "--block-size", "64"), List.of("--batch-size",
                "128"))) {
            List<String> args = new ArrayList<>(List.of("--input", names, "--steps", "2", "--num-samples", "1"));
            args.addAll(large);
            Result r = CommandLineRunner.run(dir, args.toArray(String[]::new));
            assertEquals(0, r.exitCode(), r.stderr());
            assertTrue(r.stderr().contains("device auto: training on the CPU (the only CUDA device is microgpt"
                    + " emulated"), r.stderr());
        }
    }

    /**
     * A GPU that fails midway (a kernel's fault, which the emulated device makes on purpose at the 31st kernel: the
     * fused step's 30th step, after the one kernel that sizes it) ends the run with one line, the driver's error and the
     * checkpoint to go on from (step 20, the last of every 10 before it); the metrics keep the steps reported, and the
     * run goes on from there to its end.
     */
    @Test
    void aGpuFailingMidwayNamesTheCheckpointToGoOnFrom() throws Exception {
        assumeTrue(GpuSupport.status().emulated(), "the fault is the emulated device's, made on purpose");
        String names = BuiltinDataset.writeTo(dir).toString();
        Result failed = CommandLineRunner.runWith(Map.of("MICROGPT_EMULATED_FAULT_AFTER_KERNELS", "30"), dir, "--input",
                names, "--device", "gpu", "--gpu-mode", "fused", "--steps", "60", "--checkpoint-every", "10",
                "--checkpoint", "c.safetensors", "--metrics", "m.csv", "--quiet");
        assertEquals(1, failed.exitCode(), failed.stderr());
        String error = failed.errLines().get(failed.errLines().size() - 1);
        assertTrue(error.startsWith("error: ") && error.contains("CUDA_ERROR_ILLEGAL_ADDRESS") && error.endsWith(
                "; the run's state on the GPU is lost, its last checkpoint is c.safetensors (step 20): continue with"
                + " --resume --checkpoint c.safetensors --input " + names), error);
        assertEquals(20, CheckpointFile.read(dir.resolve("c.safetensors")).step());
        assertEquals(21, Files.readAllLines(dir.resolve("m.csv")).size(), "the header, and steps 1 to 20");

        Result resumed = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--resume", "--checkpoint",
                "c.safetensors", "--metrics", "m.csv", "--num-samples", "0", "--quiet");
        assertEquals(0, resumed.exitCode(), resumed.stderr());
        assertEquals(61, Files.readAllLines(dir.resolve("m.csv")).size(), "the header, and steps 1 to 60");
    }

    /** --gemm cublas takes the GPU by itself, even for a model --device auto would train on the CPU. */
    @Test
    @RequiresCublas
    void trainsWithCublasUnderDeviceAuto() throws Exception {
        Result r = CommandLineRunner.run(dir, "--input", BuiltinDataset.writeTo(dir).toString(), "--gemm", "cublas",
                "--gpu-mode", "graph", "--steps", "100", "--num-samples", "5");
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stderr().contains("device gpu: ") && r.stderr().contains("gemm cublas: cuBLAS "), r.stderr());
        assertEquals(5, r.stdout().lines().filter(l -> l.matches("sample +[0-9]+: [a-z]*")).count(), r.stdout());
    }

    /** The default run of microgpt.py, trained by the fused step: the 1000 losses follow the CPU's, and it samples. */
    @Test
    void theDefaultRunTrainsWithTheFusedStep() throws Exception {
        String names = BuiltinDataset.writeTo(dir).toString();
        Result fused = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--gpu-mode", "fused",
                "--metrics", "fused.csv");
        assertEquals(0, fused.exitCode(), fused.stderr());
        assertEquals(20, fused.stdout().lines().filter(l -> l.matches("sample [ 12][0-9]: [a-z]*")).count(),
                fused.stdout());
        Result cpu = CommandLineRunner.run(dir, "--input", names, "--device", "cpu", "--metrics", "cpu.csv", "--quiet");
        assertEquals(0, cpu.exitCode(), cpu.stderr());
        List<String> f = Files.readAllLines(dir.resolve("fused.csv"));
        List<String> c = Files.readAllLines(dir.resolve("cpu.csv"));
        assertEquals(c.size(), f.size(), "metrics rows");
        // The parity tests' bound over the first 200 steps; after that float32 and float64 trajectories may drift
        // apart step by step, so the end of the run is held to its mean (the final loss is about 2.3).
        double cpuTail = 0;
        double fusedTail = 0;
        for (int row = 1; row < c.size(); row++) {
            double expected = loss(c.get(row));
            double actual = loss(f.get(row));
            if (row <= 200) {
                assertEquals(expected, actual, 2e-3, "loss at step " + row);
            } else if (row > c.size() - 101) {
                cpuTail += expected / 100;
                fusedTail += actual / 100;
            }
        }
        assertEquals(cpuTail, fusedTail, 0.02, "mean loss of the last 100 steps");
    }

    private static double loss(String metricsRow) {
        return Double.parseDouble(metricsRow.split(",")[1]); // step,loss,lr,elapsed_ms,docs_per_s,tokens_per_s
    }
}
