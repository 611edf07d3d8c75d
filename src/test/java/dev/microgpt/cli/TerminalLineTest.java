package dev.microgpt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The progress bar's line fits the terminal however narrow, its last column left free so that it never wraps. */
class TerminalLineTest {

    private static final String LINE = "train  42% [=====>     ] 420/1000 steps (0:00:01 / 0:00:02) 350.0 steps/s"
            + " loss 2.3971";

    @ParameterizedTest(name = "COLUMNS={0}: {1} characters")
    @CsvSource({"200, 199", "60, 59", "15, 14", "5, 4", "2, 1", "1, 79", "0, 79", "-3, 79", "wide, 79"})
    void aLineIsCutToTheTerminalsWidthLessOne(String columns, int width) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TerminalLine line = new TerminalLine(new PrintStream(bytes, true, StandardCharsets.UTF_8), columns)) {
            assertEquals(width, line.getMaxRenderedLength());
            line.accept(LINE);
        }
        assertEquals("\r" + LINE.substring(0, Math.min(width, LINE.length())) + System.lineSeparator(),
                bytes.toString(StandardCharsets.UTF_8));
    }
}
