package io.fedlora.demo.bench;

import io.fedlora.aggregation.basemodel.ExpectedEntry;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.proto.v1.ModelManifest;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.util.List;

/** The base tensors and files of a full-state manifest, as a local copy of the base model must hold them. */
final class BaseManifest {

    private BaseManifest() {
    }

    static List<ExpectedEntry> expected(ModelManifest m) {
        return m.getTensorsList().stream().filter(t -> t.getRole() == TensorRole.BASE || t.getRole() == TensorRole.FILE)
                .map(BaseManifest::entry).toList();
    }

    private static ExpectedEntry entry(TensorMeta t) {
        DType dtype = switch (t.getDtype()) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            default -> DType.U8;
        };
        return new ExpectedEntry(t.getName(), t.getRole() == TensorRole.FILE, dtype,
                t.getShapeList().stream().mapToLong(Long::longValue).toArray(), t.getSha256());
    }
}
