package io.fedlora.agent.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level BPE: text is split with GPT-2's pre-tokenisation regex, each piece's UTF-8 bytes are mapped to
 * visible characters ({@link ByteUnicode}) and merged by rank. Loaded from {@code vocab.json} + {@code merges.txt}
 * or a {@code tokenizer.json}, it reproduces HF's ids for gpt2/distilgpt2. {@code <|endoftext|>} in the text is
 * encoded as the special token.
 */
public final class Gpt2BpeTokenizer implements Tokenizer {

    /** GPT-2's special end-of-text token. */
    public static final String END_OF_TEXT = "<|endoftext|>";

    private static final Pattern PRETOKENIZE = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final int CACHE_LIMIT = 50_000;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks;
    private final ByteUnicode bytes = new ByteUnicode();
    private final int eosId;
    private final Map<String, int[]> cache = new HashMap<>();

    /**
     * @param vocab  token string (in byte-unicode form) to id
     * @param merges merge pairs in priority order, each "left right"
     */
    public Gpt2BpeTokenizer(Map<String, Integer> vocab, List<String> merges) {
        this.vocab = Map.copyOf(vocab);
        int max = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[max + 1];
        vocab.forEach((tok, id) -> idToToken[id] = tok);
        this.mergeRanks = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            String m = merges.get(i);
            if (m.split(" ").length != 2) {
                throw new IllegalArgumentException("merge rule " + (i + 1) + " is not two symbols: '" + m + "'");
            }
            mergeRanks.putIfAbsent(m, i);
        }
        Integer eos = vocab.get(END_OF_TEXT);
        this.eosId = eos != null ? eos : max;
    }

    @Override
    public int[] encode(String text) {
        List<Integer> ids = new ArrayList<>();
        int from = 0;
        while (from <= text.length()) {
            int special = text.indexOf(END_OF_TEXT, from);
            int end = special < 0 ? text.length() : special;
            encodeOrdinary(text.substring(from, end), ids);
            if (special < 0) {
                break;
            }
            ids.add(eosId);
            from = special + END_OF_TEXT.length();
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private void encodeOrdinary(String text, List<Integer> out) {
        Matcher m = PRETOKENIZE.matcher(text);
        while (m.find()) {
            String piece = m.group();
            int[] ids = cache.get(piece);
            if (ids == null) {
                ids = bpe(piece);
                if (cache.size() < CACHE_LIMIT) {
                    cache.put(piece, ids);
                }
            }
            for (int id : ids) {
                out.add(id);
            }
        }
    }

    /** BPE of one pre-token: repeatedly merge the adjacent pair with the lowest rank. */
    private int[] bpe(String piece) {
        byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(utf8.length);
        for (byte b : utf8) {
            symbols.add(String.valueOf(bytes.toChar(b & 0xff)));
        }
        while (symbols.size() > 1) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i < symbols.size() - 1; i++) {
                Integer rank = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            String first = symbols.get(best);
            String second = symbols.get(best + 1);
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i < symbols.size() - 1 && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocab.get(symbols.get(i));
            if (id == null) {
                throw new IllegalStateException("BPE symbol '" + symbols.get(i) + "' is not in the vocabulary");
            }
            ids[i] = id;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
                throw new IllegalArgumentException("token id " + id + " is not in the vocabulary");
            }
            String tok = idToToken[id];
            if (id == eosId && tok.equals(END_OF_TEXT)) {
                out.writeBytes(END_OF_TEXT.getBytes(StandardCharsets.UTF_8));
                continue;
            }
            for (int i = 0; i < tok.length(); i++) {
                int b = bytes.toByte(tok.charAt(i));
                if (b < 0) {
                    out.writeBytes(String.valueOf(tok.charAt(i)).getBytes(StandardCharsets.UTF_8));
                } else {
                    out.write(b);
                }
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int vocabSize() {
        return idToToken.length;
    }
}
