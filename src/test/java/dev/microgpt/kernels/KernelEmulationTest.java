package dev.microgpt.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernels' arithmetic, without a GPU: kernels/emu/check_kernels.sh compiles every kernels/*.cu with g++ against
 * a host emulation of the CUDA features they use (kernels/emu/cuda_emu.h: a std::thread per CUDA thread,
 * barriers for __syncthreads/__syncwarp, shuffles through a per-warp buffer) and compares each kernel's output with
 * a float64 reference of its Java CPU twin's formula (dev.microgpt.ops), over shapes up to T = 128, C = 128 and rows
 * n < T; then whole training steps launched in kernels/README.md's order (loss and every gradient tensor against a
 * float64 FastEngine-style step, to 3e-5 relative). Skipped where bash or a C++20 g++ is missing. It does not replace running on the GPU: it checks what each
 * thread computes, not coalescing, timing, or races that real scheduling could expose.
 */
class KernelEmulationTest {

    @Test
    void everyKernelMatchesItsFloat64ReferenceUnderHostEmulation(@TempDir Path tmp) throws Exception {
        Path script = Path.of("kernels", "emu", "check_kernels.sh").toAbsolutePath();
        assumeTrue(Files.isRegularFile(script), "skipped: " + script + " is absent (tests not run from the checkout)");
        Optional<Path> bash = KernelBuild.findExecutable("bash", Optional.empty());
        Optional<Path> gxx = KernelBuild.findExecutable("g++", Optional.empty());
        assumeTrue(bash.isPresent() && gxx.isPresent(), "skipped: bash and g++ are needed for the host emulation");
        Path probe = tmp.resolve("probe.cpp");
        Files.writeString(probe, "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n");
        KernelBuild.Run cxx20 = KernelBuild.run(List.of(gxx.get().toString(), "-std=c++20", "-pthread", "-o",
                tmp.resolve("probe").toString(), probe.toString()), tmp, 120);
        assumeTrue(cxx20.exit() == 0, () -> "skipped: " + gxx.get() + " cannot build C++20 <barrier> code:\n"
                + cxx20.output());

        KernelBuild.Run run = KernelBuild.run(List.of(bash.get().toString(), script.toString(),
                tmp.resolve("work").toString()), null, 900);
        System.out.print(run.output());
        assertTrue(run.output().contains(" passed, 0 failed"), "kernel emulation checks failed:\n" + run.output());
        assertEquals(0, run.exit(), "check_kernels.sh exit status");
    }
}
