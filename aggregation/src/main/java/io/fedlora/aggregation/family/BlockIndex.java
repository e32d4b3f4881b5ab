package io.fedlora.aggregation.family;

/** Parses the block index out of a module name such as {@code h.3.attn.c_attn}. */
final class BlockIndex {

    private BlockIndex() {
    }

    /** The integer right after {@code prefix} (and before the next dot), or -1. */
    static int after(String module, String prefix) {
        if (!module.startsWith(prefix)) {
            return -1;
        }
        int start = prefix.length();
        int end = module.indexOf('.', start);
        if (end <= start) {
            return -1;
        }
        try {
            return Integer.parseInt(module.substring(start, end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
