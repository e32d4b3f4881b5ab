package io.fedlora.agent.tokenizer;

/**
 * GPT-2's reversible byte ↔ unicode map: printable Latin-1 bytes map to themselves, the other 68 bytes to code points
 * from U+0100 on, so that every byte sequence becomes a string of visible characters BPE can merge.
 */
final class ByteUnicode {

    private final char[] byteToChar = new char[256];
    private final int[] charToByte = new int[0x180];

    ByteUnicode() {
        java.util.Arrays.fill(charToByte, -1);
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + next++);
            byteToChar[b] = c;
            charToByte[c] = b;
        }
    }

    char toChar(int unsignedByte) {
        return byteToChar[unsignedByte];
    }

    /** The byte a mapped character stands for; -1 for characters outside the map. */
    int toByte(char c) {
        return c < charToByte.length ? charToByte[c] : -1;
    }
}
