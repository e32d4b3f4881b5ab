package io.fedlora.agent.model;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.factory.Nd4j;

import java.util.function.Supplier;

/**
 * An ND4J memory workspace for the temporaries of one training or evaluation step. A step allocates a few hundred
 * small arrays; without a workspace each is a native malloc plus a garbage-collector-driven free, which costs as
 * much as the arithmetic at this model size. Inside the scope allocations bump a pointer in a buffer sized on the
 * first step and reused afterwards. Arrays created inside are invalid once the scope closes: results that must live
 * on (optimiser state, caches) are created {@link #outside} it.
 */
public final class StepWorkspace {

    private static final WorkspaceConfiguration CONFIG = WorkspaceConfiguration.builder()
            .initialSize(0)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .overallocationLimit(0.5)
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();

    private StepWorkspace() {
    }

    /** Opens (and activates) the calling thread's workspace with the given id; close it at the end of the step. */
    public static MemoryWorkspace open(String id) {
        return Nd4j.getWorkspaceManager().getAndActivateWorkspace(CONFIG, id);
    }

    /** Runs {@code create} with no workspace active, so that what it allocates outlives the current step. */
    public static <T> T outside(Supplier<T> create) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return create.get();
        }
    }
}
