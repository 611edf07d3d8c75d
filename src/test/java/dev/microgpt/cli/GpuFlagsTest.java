package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The list of GPU flags that --device cpu and --predict refuse is every GPU option the command line has. */
class GpuFlagsTest {

    @Test
    void theNamesAreEveryGpuOption() {
        Set<String> declared = CommandSpec.forAnnotatedObject(new GpuFlags()).options().stream()
                .map(OptionSpec::longestName).collect(Collectors.toSet());
        assertEquals(declared, Set.copyOf(GpuFlags.NAMES));
        assertEquals(GpuFlags.NAMES.size(), declared.size(), "no name twice");
    }
}
