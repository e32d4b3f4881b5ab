package io.fedlora.demo.bench;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.peft.ExportLayout;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * An independent float64 check of a published version against {@code sum_i w_i (W_prev + s B_i A_i)}, from the
 * exported versions (REST) and the clients' factors regenerated from their seeds; none of the coordinator's
 * arithmetic is reused. Layers larger than {@code 65,536} weights are checked on 4,096 sampled entries.
 */
final class ExactnessCheck {

    private static final int FULL_UP_TO = 1 << 16;
    private static final int SAMPLES = 4096;

    private ExactnessCheck() {
    }

    /**
     * Relative Frobenius error over the checked entries of every target layer; {@code layouts} gives each module's
     * base-weight layout from the model family's description (not from the coordinator under test).
     */
    static double relError(Path previousZip, Path publishedZip, Path scratch, List<TensorMeta> expected, int round,
            int clients, long seed, double scale, Map<String, WeightLayout> layouts) throws IOException {
        Path prev = unzip(previousZip, scratch.resolve("prev-" + round));
        Path pub = unzip(publishedZip, scratch.resolve("pub-" + round));
        double[] weight = new double[clients];
        double total = 0;
        for (int i = 0; i < clients; i++) {
            weight[i] = ClientFactors.examples(seed, i);
            total += weight[i];
        }
        double err = 0;
        double ref = 0;
        try (SafetensorsReader w0 = SafetensorsReader.open(ExportLayout.baseModel(prev));
             SafetensorsReader w1 = SafetensorsReader.open(ExportLayout.baseModel(pub));
             SafetensorsReader adapter = SafetensorsReader.open(ExportLayout.adapterWeights(pub))) {
            for (int ia = 0; ia < expected.size(); ia++) {
                TensorMeta a = expected.get(ia);
                if (a.getRole() != TensorRole.LORA_A) {
                    continue;
                }
                int ib = indexOf(expected, a.getModule(), TensorRole.LORA_B);
                TensorMeta b = expected.get(ib);
                int r = (int) a.getShape(0);
                int dIn = (int) a.getShape(1);
                int dOut = (int) b.getShape(0);
                WeightLayout layout = layouts.get(a.getModule());
                if (layout == null) {
                    throw new IllegalStateException("module " + a.getModule() + " is not an adaptable module of the model");
                }
                boolean conv1d = layout == WeightLayout.CONV1D;
                String baseKey = key(w0, a.getModule() + ".weight");
                float[] before = w0.readFloat(baseKey).dup('c').data().asFloat();
                float[] after = w1.readFloat(baseKey).dup('c').data().asFloat();
                float[] ga = adapter.readFloat(key(adapter, a.getModule() + ".lora_A.weight")).dup('c').data().asFloat();
                float[] gb = adapter.readFloat(key(adapter, a.getModule() + ".lora_B.weight")).dup('c').data().asFloat();
                long entries = (long) dOut * dIn;
                int n = entries <= FULL_UP_TO ? (int) entries : SAMPLES;
                int[] os = new int[n];
                int[] is = new int[n];
                SplittableRandom pick = new SplittableRandom(seed ^ ia);
                for (int k = 0; k < n; k++) {
                    long e = entries <= FULL_UP_TO ? k : pick.nextLong(entries);
                    os[k] = (int) (e / dIn);
                    is[k] = (int) (e % dIn);
                }
                double[] want = new double[n];
                for (int c = 0; c < clients; c++) {
                    float[] ca = ClientFactors.values(seed, c, round, ia, a);
                    float[] cb = ClientFactors.values(seed, c, round, ib, b);
                    double wc = scale * weight[c] / total;
                    for (int k = 0; k < n; k++) {
                        double dot = 0;
                        for (int j = 0; j < r; j++) {
                            dot += (double) cb[os[k] * r + j] * ca[j * dIn + is[k]];
                        }
                        want[k] += wc * dot;
                    }
                }
                for (int k = 0; k < n; k++) {
                    int flat = conv1d ? is[k] * dOut + os[k] : os[k] * dIn + is[k];
                    double target = before[flat] + want[k];
                    double dot = 0;
                    for (int j = 0; j < r; j++) {
                        dot += (double) gb[os[k] * r + j] * ga[j * dIn + is[k]];
                    }
                    double got = after[flat] + scale * dot;
                    err += (got - target) * (got - target);
                    ref += target * target;
                }
            }
        }
        return Math.sqrt(err / ref);
    }

    private static int indexOf(List<TensorMeta> expected, String module, TensorRole role) {
        for (int i = 0; i < expected.size(); i++) {
            if (expected.get(i).getModule().equals(module) && expected.get(i).getRole() == role) {
                return i;
            }
        }
        throw new IllegalStateException("no " + role + " tensor for " + module + " in the task");
    }

    /** The stored key ending with {@code suffix} on a dot boundary (exports may prefix "transformer." etc.). */
    private static String key(SafetensorsReader r, String suffix) {
        return r.tensors().keySet().stream().filter(k -> k.equals(suffix) || k.endsWith("." + suffix)).findFirst()
                .orElseThrow(() -> new IllegalStateException("export has no tensor ending in " + suffix));
    }

    /**
     * The weights this check reads, the folded base ({@code base/}) and the adapter ({@code adapter/}), into the same
     * places under {@code dir}; every other entry (the merged model, config and tokenizer files) is skipped.
     */
    private static Path unzip(Path zip, Path dir) throws IOException {
        Files.createDirectories(dir);
        java.util.Set<String> wanted = java.util.Set.of(ExportLayout.BASE_ENTRY, ExportLayout.ADAPTER_WEIGHTS_ENTRY);
        try (InputStream raw = Files.newInputStream(zip); ZipInputStream in = new ZipInputStream(raw)) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                if (wanted.contains(e.getName())) {
                    Path target = dir.resolve(e.getName());
                    Files.createDirectories(target.getParent());
                    Files.copy(in, target);
                }
            }
        }
        for (String name : wanted) {
            if (!Files.isRegularFile(dir.resolve(name))) {
                throw new IOException(zip + " has no " + name + ": not an export of this layout");
            }
        }
        return dir;
    }

}
