package dev.microgpt.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ProgressBarConsumer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Draws the progress bar on one terminal line (a carriage return, then the line: no cursor movement), as wide as the
 * terminal, however narrow: COLUMNS at first, which the launcher exports (bin/microgpt), else stty once, and again
 * after each resize (SIGWINCH), read then with stty on the signal's thread. Left to find the width itself, the library
 * asks the terminal through JLine, which took a quarter of a second the first time and 10 ms every redraw (2-core VM,
 * 2026-11-27).
 */
final class TerminalLine implements ProgressBarConsumer {

    /** A terminal's width where it is not known (a terminal without a size reports 0): the classic one. */
    private static final int DEFAULT_COLUMNS = 80;
    private static final Signal RESIZED = resizeSignal();

    private final PrintStream out;
    private volatile int columns;
    private final SignalHandler previous; // restored by close; null where resizes are not followed

    TerminalLine(PrintStream out) {
        this(out, System.getenv("COLUMNS"));
    }

    /** {@code columns}: the terminal's width as COLUMNS gives it, null where that is unset (java run directly). */
    TerminalLine(PrintStream out, String columns) {
        this.out = out;
        this.columns = columnsFrom(columns != null ? columns : sttyColumns());
        this.previous = follow();
    }

    @Override
    public int getMaxRenderedLength() {
        return columns - 1; // the last column left free, so a full line never wraps
    }

    @Override
    public void accept(String rendered) {
        int width = getMaxRenderedLength();
        out.print('\r' + (rendered.codePointCount(0, rendered.length()) <= width ? rendered
                : rendered.substring(0, rendered.offsetByCodePoints(0, width))));
    }

    @Override
    public void close() {
        if (previous != null) {
            Signal.handle(RESIZED, previous);
        }
        out.println();
        out.flush();
    }

    private SignalHandler follow() {
        if (RESIZED == null) {
            return null;
        }
        try {
            return Signal.handle(RESIZED, signal -> columns = columnsFrom(sttyColumns()));
        } catch (IllegalArgumentException e) {
            return null; // no handler allowed in this JVM (-Xrs): the width stays as it was
        }
    }

    private static Signal resizeSignal() {
        try {
            return new Signal("WINCH");
        } catch (IllegalArgumentException e) {
            return null; // a system without SIGWINCH
        }
    }

    /** The terminal's columns as stty reports them ("rows columns"), or null where it cannot say. */
    private static String sttyColumns() {
        try {
            Process stty = new ProcessBuilder("stty", "size").redirectInput(new File("/dev/tty"))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String[] size = new String(stty.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip()
                    .split(" ");
            return stty.waitFor() == 0 && size.length == 2 ? size[1] : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static int columnsFrom(String text) {
        try {
            int parsed = text == null ? 0 : Integer.parseInt(text.strip());
            return parsed >= 2 ? parsed : DEFAULT_COLUMNS; // at least one column drawn, the last left free
        } catch (NumberFormatException e) {
            return DEFAULT_COLUMNS;
        }
    }
}
