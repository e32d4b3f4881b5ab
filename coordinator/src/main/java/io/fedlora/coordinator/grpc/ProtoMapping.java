package io.fedlora.coordinator.grpc;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.coordinator.clientapi.BundleEntry;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.TrainingPlanInfo;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TrainingPlan;
import io.fedlora.proto.v1.UpdateHeader;
import java.util.LinkedHashMap;
import java.util.List;

/** Conversions between the wire messages of federation.proto and the transport-neutral client API records. */
final class ProtoMapping {

    private ProtoMapping() {}

    static io.fedlora.proto.v1.DType toProto(DType dtype) {
        return switch (dtype) {
            case F32 -> io.fedlora.proto.v1.DType.F32;
            case F16 -> io.fedlora.proto.v1.DType.F16;
            case BF16 -> io.fedlora.proto.v1.DType.BF16;
            case F64 -> io.fedlora.proto.v1.DType.F64;
            case U8 -> io.fedlora.proto.v1.DType.U8;
            default -> throw new IllegalArgumentException("dtype " + dtype + " has no wire representation");
        };
    }

    /** The aggregation dtype of a wire dtype; INVALID_ARGUMENT for an unset or unknown value. */
    static DType fromProto(io.fedlora.proto.v1.DType dtype, String tensor) {
        return switch (dtype) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            case U8 -> DType.U8;
            default -> throw UploadRejectedException.invalid("header", "tensor '" + tensor + "' has no valid dtype");
        };
    }

    static io.fedlora.proto.v1.TensorRole toProto(TensorRole role) {
        return io.fedlora.proto.v1.TensorRole.valueOf(role.name());
    }

    static TensorRole fromProto(io.fedlora.proto.v1.TensorRole role, String tensor) {
        if (role == io.fedlora.proto.v1.TensorRole.TENSOR_ROLE_UNSPECIFIED
                || role == io.fedlora.proto.v1.TensorRole.UNRECOGNIZED) {
            throw UploadRejectedException.invalid("header", "tensor '" + tensor + "' has no valid role");
        }
        return TensorRole.valueOf(role.name());
    }

    static io.fedlora.proto.v1.WeightLayout toProto(WeightLayout layout) {
        return switch (layout) {
            case LINEAR -> io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_LINEAR;
            case CONV1D -> io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D;
        };
    }

    /** The layout a client declares: null when unset (refused later where the task needs one), INVALID_ARGUMENT when unknown. */
    static WeightLayout fromProto(io.fedlora.proto.v1.WeightLayout layout, String tensor) {
        return switch (layout) {
            case WEIGHT_LAYOUT_LINEAR -> WeightLayout.LINEAR;
            case WEIGHT_LAYOUT_CONV1D -> WeightLayout.CONV1D;
            case WEIGHT_LAYOUT_UNSPECIFIED -> null;
            default -> throw UploadRejectedException.invalid("header", "tensor '" + tensor + "' has an unknown weight layout");
        };
    }

    static TensorSpec toSpec(TensorMeta meta) {
        long[] shape = meta.getShapeList().stream().mapToLong(Long::longValue).toArray();
        return new TensorSpec(meta.getName(), meta.getModule(), fromProto(meta.getRole(), meta.getName()),
                fromProto(meta.getDtype(), meta.getName()), shape, fromProto(meta.getLayout(), meta.getName()));
    }

    static UpdateHeaderInfo toHeaderInfo(UpdateHeader header, List<TensorSpec> specs) {
        return new UpdateHeaderInfo(header.getFederationId(), header.getRound(), header.getUploadId(),
                header.getNumExamples(), header.getBaseModelVersion(), List.copyOf(specs),
                new LinkedHashMap<>(header.getMetricsMap()));
    }

    static EvaluationInfo toEvaluation(EvaluationReport report) {
        return new EvaluationInfo(report.getFederationId(), report.getRound(), report.getModelVersion(),
                report.getNumExamples(), report.getLoss(), report.getAccuracy(),
                new LinkedHashMap<>(report.getMetricsMap()));
    }

    static TensorMeta toMeta(TensorSpec spec) {
        TensorMeta.Builder b = TensorMeta.newBuilder()
                .setName(spec.name())
                .setRole(toProto(spec.role()))
                .setDtype(toProto(spec.dtype()));
        long elements = 1;
        for (long d : spec.shape()) {
            b.addShape(d);
            elements *= d;
        }
        if (spec.module() != null) {
            b.setModule(spec.module());
        }
        if (spec.layout() != null) {
            b.setLayout(toProto(spec.layout()));
        }
        return b.setByteSize(elements * spec.dtype().byteSize()).build();
    }

    static TensorMeta toMeta(BundleEntry entry) {
        TensorMeta.Builder b = TensorMeta.newBuilder()
                .setName(entry.name())
                .setRole(toProto(entry.role()))
                .setDtype(toProto(entry.dtype()))
                .setSha256(entry.sha256())
                .setByteSize(entry.byteSize())
                .setScale(entry.scale());
        if (entry.layout() != null) {
            b.setLayout(toProto(entry.layout()));
        }
        for (long d : entry.shape()) {
            b.addShape(d);
        }
        if (entry.module() != null) {
            b.setModule(entry.module());
        }
        if (entry.target() != null) {
            b.setTarget(entry.target());
        }
        return b.build();
    }

    static TaskResponse toResponse(ClientTask task) {
        TaskResponse.Builder b = TaskResponse.newBuilder()
                .setKind(switch (task.kind()) {
                    case TRAIN -> TaskKind.TRAIN;
                    case EVALUATE -> TaskKind.EVALUATE;
                    case DONE -> TaskKind.DONE;
                })
                .setRound(task.round())
                .setModelVersion(task.modelVersion())
                .setDeadlineUnixMs(task.deadlineUnixMs())
                .setMaxUpdateNorm(task.maxUpdateNorm());
        if (task.federationId() != null) {
            b.setFederationId(task.federationId());
        }
        if (task.reason() != null) {
            b.setReason(task.reason());
        }
        if (task.plan() != null) {
            b.setPlan(toPlan(task.plan()));
        }
        if (task.expectedUpdate() != null) {
            task.expectedUpdate().forEach(spec -> b.addExpectedUpdate(toMeta(spec)));
        }
        return b.build();
    }

    static TaskResponse waitResponse() {
        return TaskResponse.newBuilder().setKind(TaskKind.WAIT).build();
    }

    private static TrainingPlan toPlan(TrainingPlanInfo p) {
        TrainingPlan.Builder b = TrainingPlan.newBuilder()
                .setRank(p.rank())
                .setAlpha(p.alpha())
                .setUseRslora(p.useRslora())
                .setLocalEpochs(p.localEpochs())
                .setLocalSteps(p.localSteps())
                .setBatchSize(p.batchSize())
                .setLearningRate(p.learningRate())
                .setWeightDecay(p.weightDecay())
                .setMaxGradNorm(p.maxGradNorm())
                .setSeed(p.seed())
                .setMaxSeqLen(p.maxSeqLen());
        if (p.targetModules() != null) {
            b.addAllTargetModules(p.targetModules());
        }
        if (p.strategy() != null) {
            b.setStrategy(p.strategy());
        }
        return b.build();
    }
}
