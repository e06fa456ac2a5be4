package dev.converge.daemon.cli;

/**
 * Where the CLI's standard output goes: a terminal of some width (lines are redrawn in place) or
 * anything else (plain lines, one per change). Tests give a fixed one.
 */
public interface Screen {
    boolean isTerminal();

    /** Columns now; asked before every redraw, so a resized terminal is followed. */
    int width();

    /** Standard output as the kernel describes it. */
    static Screen stdout() {
        boolean tty = Terminal.stdoutIsTerminal();
        return new Screen() {
            @Override
            public boolean isTerminal() {
                return tty;
            }

            @Override
            public int width() {
                return tty ? Terminal.width() : StatusLine.UNLIMITED;
            }
        };
    }

    /** Not a terminal: plain lines. */
    static Screen plain() {
        return fixed(false, StatusLine.UNLIMITED);
    }

    static Screen fixed(boolean terminal, int width) {
        return new Screen() {
            @Override
            public boolean isTerminal() {
                return terminal;
            }

            @Override
            public int width() {
                return width;
            }
        };
    }
}
