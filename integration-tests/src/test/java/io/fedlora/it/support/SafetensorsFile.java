package io.fedlora.it.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A deliberately independent safetensors reader for the tests (it shares no code with the
 * aggregation module it checks): every tensor becomes a double-precision {@link Matrix}
 * (1-D tensors become a single row).
 */
public final class SafetensorsFile {

    private SafetensorsFile() {
    }

    public static Map<String, Matrix> read(Path file) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = all.getLong(0);
        if (headerLength <= 0 || headerLength > all.capacity() - 8) {
            throw new IOException(file + ": bad safetensors header length " + headerLength);
        }
        byte[] headerBytes = new byte[(int) headerLength];
        all.get(8, headerBytes);
        JsonNode header = new ObjectMapper().readTree(headerBytes);
        int dataStart = 8 + (int) headerLength;
        Map<String, Matrix> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode info = e.getValue();
            String dtype = info.path("dtype").asText();
            JsonNode shape = info.path("shape");
            int rows = shape.size() >= 2 ? shape.get(0).asInt() : 1;
            int cols = shape.size() >= 2 ? shape.get(1).asInt() : (shape.size() == 1 ? shape.get(0).asInt() : 1);
            if (shape.size() > 2) {
                throw new IOException(file + ": tensor " + e.getKey() + " has rank " + shape.size());
            }
            int begin = dataStart + info.path("data_offsets").get(0).asInt();
            double[] values = new double[rows * cols];
            for (int i = 0; i < values.length; i++) {
                values[i] = switch (dtype) {
                    case "F32" -> all.getFloat(begin + 4 * i);
                    case "F64" -> all.getDouble(begin + 8 * i);
                    case "F16" -> half(all.getShort(begin + 2 * i));
                    case "BF16" -> Float.intBitsToFloat((all.getShort(begin + 2 * i) & 0xffff) << 16);
                    default -> throw new IOException(file + ": tensor " + e.getKey() + " has dtype " + dtype);
                };
            }
            tensors.put(e.getKey(), new Matrix(rows, cols, values));
        }
        return tensors;
    }

    /** IEEE 754 binary16 to double. */
    static double half(short bits) {
        int h = bits & 0xffff;
        int sign = (h >>> 15) == 0 ? 1 : -1;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0) {
            return sign * mantissa * Math.pow(2, -24);
        }
        if (exponent == 31) {
            return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        return sign * (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
    }
}
