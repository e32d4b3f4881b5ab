package io.fedlora.it.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Splits a {@code model.safetensors} into {@code n} shards the way {@code save_pretrained(max_shard_size=...)} lays
 * them out ({@code model-0000i-of-0000n.safetensors}, consecutive runs of the tensors in header order, and
 * {@code model.safetensors.index.json} with {@code metadata.total_size} and {@code weight_map}), copying each tensor's
 * bytes unchanged. Independent of the aggregation module's safetensors code, like {@link SafetensorsFile}.
 */
public final class ShardSplitter {

    private ShardSplitter() {
    }

    /** Writes the shards and the index into {@code out} (which may be the source's directory) and returns the shard names. */
    public static List<String> split(Path modelFile, Path out, int n) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(modelFile)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) all.getLong(0);
        byte[] headerBytes = new byte[headerLength];
        all.get(8, headerBytes);
        JsonNode header = json.readTree(headerBytes);
        int dataStart = 8 + headerLength;
        List<Map.Entry<String, JsonNode>> tensors = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("__metadata__")) {
                tensors.add(e);
            }
        }
        ObjectNode weightMap = json.createObjectNode();
        List<String> names = new ArrayList<>();
        long total = 0;
        int per = (tensors.size() + n - 1) / n;
        for (int s = 0; s < n; s++) {
            String name = String.format("model-%05d-of-%05d.safetensors", s + 1, n);
            ObjectNode shardHeader = json.createObjectNode();
            shardHeader.putObject("__metadata__").put("format", "pt");
            List<byte[]> data = new ArrayList<>();
            long offset = 0;
            for (Map.Entry<String, JsonNode> t : tensors.subList(Math.min(tensors.size(), s * per),
                    Math.min(tensors.size(), (s + 1) * per))) {
                long begin = t.getValue().get("data_offsets").get(0).asLong();
                long end = t.getValue().get("data_offsets").get(1).asLong();
                byte[] bytes = new byte[(int) (end - begin)];
                all.get(dataStart + (int) begin, bytes);
                ObjectNode info = shardHeader.putObject(t.getKey());
                info.put("dtype", t.getValue().get("dtype").asText());
                info.set("shape", t.getValue().get("shape"));
                info.putArray("data_offsets").add(offset).add(offset + bytes.length);
                offset += bytes.length;
                data.add(bytes);
                weightMap.put(t.getKey(), name);
                total += bytes.length;
            }
            byte[] h = json.writeValueAsString(shardHeader).getBytes(StandardCharsets.UTF_8);
            int padded = (h.length + 7) / 8 * 8;
            ByteBuffer file = ByteBuffer.allocate(8 + padded + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
            file.putLong(padded).put(h);
            for (int i = h.length; i < padded; i++) {
                file.put((byte) ' ');
            }
            data.forEach(file::put);
            Files.write(out.resolve(name), file.array());
            names.add(name);
        }
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", weightMap);
        Files.writeString(out.resolve("model.safetensors.index.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        return names;
    }
}
