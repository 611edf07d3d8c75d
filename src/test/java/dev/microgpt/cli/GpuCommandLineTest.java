package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.microgpt.checkpoint.Checkpoint;
import dev.microgpt.checkpoint.CheckpointFile;
import dev.microgpt.checkpoint.DType;
import dev.microgpt.cli.CommandLineRunner.Result;
import dev.microgpt.testing.RequiresCublas;
import dev.microgpt.testing.RequiresGpu;
import dev.microgpt.testing.SharedData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line on the GPU: what ./run-gpu.sh --n-embd 64 --block-size 64 does, and checkpoints across engines. */
@RequiresGpu
class GpuCommandLineTest {

    @TempDir
    Path dir;

    @Test
    void trainsAt64On64AndItsCheckpointResumesOnTheCpu() throws Exception {
        String names = SharedData.names().toString();
        Result gpu = CommandLineRunner.run(dir, "--input", names, "--device", "gpu", "--n-embd", "64", "--block-size",
                "64", "--steps", "300", "--stop-after", "200", "--checkpoint", "g.safetensors", "--metrics", "g.csv");
        assertEquals(0, gpu.exitCode(), gpu.stderr());
        assertTrue(gpu.stderr().contains("device gpu: "), gpu.stderr());
        Checkpoint saved = CheckpointFile.read(dir.resolve("g.safetensors"));
        assertEquals(DType.F32, saved.dtype());
        assertEquals(200, saved.step());

        Result cpu = CommandLineRunner.run(dir, "--input", names, "--device", "cpu", "--resume", "--checkpoint",
                "g.safetensors", "--quiet");
        assertEquals(0, cpu.exitCode(), cpu.stderr());
        assertEquals(20, cpu.stdout().lines().filter(l -> l.matches("sample [ 12][0-9]: [a-z]*")).count(), cpu.stdout());
    }

    /** --gemm cublas takes the GPU by itself, even for a model --device auto would train on the CPU. */
    @Test
    @RequiresCublas
    void trainsWithCublasUnderDeviceAuto() throws Exception {
        Result r = CommandLineRunner.run(dir, "--input", SharedData.names().toString(), "--gemm", "cublas",
                "--gpu-mode", "graph", "--steps", "100", "--num-samples", "5");
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stderr().contains("device gpu: ") && r.stderr().contains("gemm cublas: cuBLAS "), r.stderr());
        assertEquals(5, r.stdout().lines().filter(l -> l.matches("sample +[0-9]+: [a-z]*")).count(), r.stdout());
    }
}
