package io.fedlora.agent.initmodel;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the {@code tokenizer.json} of {@code init-model --family llama}: a SentencePiece-style BPE as Llama 2 and
 * TinyLlama use (spaces as {@code ▁}, byte fallback to {@code <0xNN>}), with {@code <unk>},
 * {@code <s>}, {@code </s>}, the 256 byte tokens, {@code ▁} and the printable ASCII characters, and no merges (the
 * synthetic tasks are ASCII, so every character is one token). Unlike Llama 2 no {@code ▁} is prepended: prompt and
 * completion are encoded separately, and a prepended {@code ▁} would start every completion with a token the
 * pre-training text never has there. HF's tokenizers library loads it unchanged.
 */
final class CharTokenizerJson {

    static final int UNK = 0;
    static final int BOS = 1;
    static final int EOS = 2;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private CharTokenizerJson() {
    }

    /** Number of ids the tokenizer uses. */
    static int vocabSize() {
        return 3 + 256 + 1 + ('~' - ' ' + 1) - 1;
    }

    static void write(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode ns = norm.putArray("normalizers");
        ns.addObject().put("type", "Replace").put("content", "\u2581").set("pattern", JSON.createObjectNode().put("String", " "));
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        post.putArray("single").addObject().set("SpecialToken", JSON.createObjectNode().put("id", "<s>").put("type_id", 0));
        ((ArrayNode) post.get("single")).addObject().set("Sequence", JSON.createObjectNode().put("id", "A").put("type_id", 0));
        post.putArray("pair").addObject().set("SpecialToken", JSON.createObjectNode().put("id", "<s>").put("type_id", 0));
        ((ArrayNode) post.get("pair")).addObject().set("Sequence", JSON.createObjectNode().put("id", "A").put("type_id", 0));
        ((ArrayNode) post.get("pair")).addObject().set("Sequence", JSON.createObjectNode().put("id", "B").put("type_id", 1));
        ObjectNode st = post.putObject("special_tokens").putObject("<s>");
        st.put("id", "<s>");
        st.putArray("ids").add(BOS);
        st.putArray("tokens").add("<s>");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ds.addObject().put("type", "Replace").put("content", " ").set("pattern", JSON.createObjectNode().put("String", "\u2581"));
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (String s : specials) {
            vocab.put(s, id++);
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), id++);
        }
        vocab.put("\u2581", id++);
        for (char c = '!'; c <= '~'; c++) {
            vocab.put(String.valueOf(c), id++);
        }
        model.putArray("merges");
        if (id != vocabSize()) {
            throw new IllegalStateException("vocabulary has " + id + " ids, expected " + vocabSize());
        }
        Files.writeString(file, JSON.writeValueAsString(root) + "\n");
    }
}
