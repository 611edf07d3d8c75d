package dev.microgpt.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Assembles every /kernels/*.ptx for the GPU the project targets (H100/H200, sm_90) with {@code ptxas -v} and
 * holds each kernel to: no register spills, no local-memory stack frame, and exactly the entry points the GPU
 * engine looks up by name. Prints registers, shared memory and barriers per kernel.
 */
class PtxAssemblyTest {

    private static final String GPU_ARCH = "sm_90";

    private static final Pattern COMPILING = Pattern.compile("Compiling entry function '([^']+)'");
    private static final Pattern PROPERTIES = Pattern.compile("Function properties for (\\S+)");
    private static final Pattern FRAME = Pattern.compile(
            "(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern USED = Pattern.compile("Used (\\d+) registers");
    private static final Pattern SMEM = Pattern.compile("(\\d+) bytes smem");
    private static final Pattern BARRIERS = Pattern.compile("used (\\d+) barriers");

    /** What ptxas -v reported for one function. */
    static final class Report {
        final String name;
        boolean entry;
        int registers = -1;
        int smem;
        int barriers;
        int stackFrame = -1;
        int spillStores;
        int spillLoads;

        Report(String name) {
            this.name = name;
        }
    }

    @Test
    void everyKernelAssemblesForSm90WithoutSpillsOrStackFrames(@TempDir Path tmp) throws Exception {
        KernelBuild build = KernelBuild.load().requireBuilt();
        Optional<Path> ptxas = KernelBuild.findExecutable("ptxas", build.nvcc().map(Path::getParent));
        assumeTrue(ptxas.isPresent(), "skipped: ptxas (CUDA toolkit) is not on PATH nor in $CUDA_HOME/bin");

        List<String> problems = new ArrayList<>();
        StringBuilder table = new StringBuilder(String.format("%-14s %-32s %5s %7s %4s %6s %7s%n",
                "family", "kernel (" + GPU_ARCH + ")", "regs", "smem B", "bar", "stack", "spill"));
        for (String family : build.ptxFamilies()) {
            Path ptxFile = tmp.resolve(family + ".ptx");
            Files.writeString(ptxFile, build.ptx(family), StandardCharsets.UTF_8);
            KernelBuild.Run run = KernelBuild.run(List.of(ptxas.get().toString(), "-arch=" + GPU_ARCH, "-v",
                    ptxFile.toString(), "-o", tmp.resolve(family + ".cubin").toString()), tmp, 300);
            if (run.exit() != 0) {
                fail("ptxas failed on " + family + ".ptx (exit " + run.exit() + "):\n" + run.output());
            }
            Map<String, Report> reports = parse(run.output());

            Set<String> declared = KernelBuild.entries(build.ptx(family));
            Set<String> expected = KernelBuild.EXPECTED_ENTRIES.get(family);
            if (expected == null) {
                problems.add(family + ".ptx: unknown kernel family (add it to KernelBuild.EXPECTED_ENTRIES)");
            } else if (!declared.equals(expected)) {
                problems.add(family + ".ptx declares entries " + new TreeSet<>(declared) + ", expected "
                        + new TreeSet<>(expected));
            }
            for (String entry : declared) {
                Report r = reports.get(entry);
                if (r == null || !r.entry || r.registers < 0 || r.stackFrame < 0) {
                    problems.add(family + ".ptx: ptxas -v reported nothing complete for entry " + entry);
                }
            }
            for (Report r : reports.values()) {
                if (r.stackFrame > 0 || r.spillStores > 0 || r.spillLoads > 0) {
                    problems.add(String.format("%s.ptx: %s %s has a %d-byte stack frame, %d bytes of spill stores "
                                    + "and %d of spill loads at %s", family, r.entry ? "kernel" : "function", r.name,
                            r.stackFrame, r.spillStores, r.spillLoads, GPU_ARCH));
                }
                table.append(String.format("%-14s %-32s %5s %7d %4d %6d %7d%n", family,
                        r.entry ? r.name : "(func) " + r.name, r.entry ? Integer.toString(r.registers) : "-",
                        r.smem, r.barriers, Math.max(0, r.stackFrame), r.spillStores + r.spillLoads));
            }
        }
        System.out.print(table);
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void parsesPtxasVerboseOutput() {
        String sample = String.join("\n",
                "ptxas info    : 0 bytes gmem",
                "ptxas info    : Compiling entry function 'adam_update' for 'sm_90'",
                "ptxas info    : Function properties for adam_update",
                "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
                "ptxas info    : Used 38 registers, used 1 barriers, 8448 bytes smem",
                "ptxas info    : Compile time = 96.476 ms",
                "ptxas info    : Function properties for __internal_accurate_pow",
                "    16 bytes stack frame, 4 bytes spill stores, 8 bytes spill loads");
        Map<String, Report> r = parse(sample);
        assertEquals(Set.of("adam_update", "__internal_accurate_pow"), r.keySet());
        Report k = r.get("adam_update");
        assertTrue(k.entry);
        assertEquals(38, k.registers);
        assertEquals(8448, k.smem);
        assertEquals(1, k.barriers);
        assertEquals(0, k.stackFrame);
        Report f = r.get("__internal_accurate_pow");
        assertEquals(16, f.stackFrame);
        assertEquals(4, f.spillStores);
        assertEquals(8, f.spillLoads);
        assertTrue(!f.entry);
    }

    /** Per-function figures from ptxas -v output (entry functions and called device functions alike). */
    static Map<String, Report> parse(String output) {
        Map<String, Report> reports = new LinkedHashMap<>();
        Report current = null;
        for (String line : output.split("\\R")) {
            Matcher m;
            if ((m = COMPILING.matcher(line)).find()) {
                current = reports.computeIfAbsent(m.group(1), Report::new);
                current.entry = true;
            } else if ((m = PROPERTIES.matcher(line)).find()) {
                current = reports.computeIfAbsent(m.group(1), Report::new);
            } else if (current != null && (m = FRAME.matcher(line)).find()) {
                current.stackFrame = Integer.parseInt(m.group(1));
                current.spillStores = Integer.parseInt(m.group(2));
                current.spillLoads = Integer.parseInt(m.group(3));
            } else if (current != null && (m = USED.matcher(line)).find()) {
                current.registers = Integer.parseInt(m.group(1));
                Matcher s = SMEM.matcher(line);
                if (s.find()) {
                    current.smem = Integer.parseInt(s.group(1));
                }
                Matcher b = BARRIERS.matcher(line);
                if (b.find()) {
                    current.barriers = Integer.parseInt(b.group(1));
                }
            }
        }
        return reports;
    }
}
