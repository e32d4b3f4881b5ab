package io.fedlora.agent.daemon;

import io.fedlora.agent.daemon.cache.LocalBase;
import io.fedlora.agent.daemon.cache.ModelCache;
import io.fedlora.agent.daemon.cache.ModelDownloader;
import io.fedlora.agent.daemon.transport.ChannelFactory;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.upload.PendingUploadStore;
import io.fedlora.agent.daemon.upload.UpdateUploader;
import io.fedlora.agent.daemon.work.EvaluationJob;
import io.fedlora.agent.daemon.work.LoadedModels;
import io.fedlora.agent.daemon.work.TrainingJob;
import io.fedlora.agent.train.BackendInfo;
import io.grpc.ManagedChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Wires the daemon from {@link AgentProperties}; every piece is a plain class constructed here. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(AgentProperties.class)
public class AgentConfiguration {

    private static final Logger log = LoggerFactory.getLogger(AgentConfiguration.class);

    /** Closed after the runner has stopped: lifecycle beans stop before any bean is destroyed. */
    @Bean(destroyMethod = "shutdownNow")
    ManagedChannel coordinatorChannel(AgentProperties props) {
        return ChannelFactory.create(props);
    }

    @Bean
    CoordinatorClient coordinatorClient(ManagedChannel channel, AgentProperties props) {
        return new CoordinatorClient(channel, props);
    }

    @Bean
    BackendInfo backendInfo(AgentProperties props) {
        NativeThreads.apply(props.ompThreads());
        BackendInfo info = BackendInfo.current();
        info.log(log);
        return info;
    }

    @Bean
    AgentStatus agentStatus() {
        return new AgentStatus();
    }

    @Bean
    ModelCache modelCache(AgentProperties props) {
        return new ModelCache(props.workDir());
    }

    @Bean
    TaskLoop taskLoop(AgentProperties props, CoordinatorClient client, ModelCache cache, AgentStatus status,
                      BackendInfo backend) {
        UpdateUploader uploader = new UpdateUploader(client, new PendingUploadStore(props.workDir()));
        LoadedModels models = new LoadedModels();
        String device = backend.backend() + " (" + backend.device() + ", " + backend.ompThreads() + " threads)";
        return new TaskLoop(props, client, new Enroller(client, new CredentialStore(props.workDir()), props), cache,
                new ModelDownloader(client, cache, props.baseModel() == null ? null
                        : new LocalBase(client, cache, props.baseModel(), props.workDir())), uploader,
                new Heartbeats(client, status, () -> device, props.heartbeatInterval()), status,
                new TrainingJob(props, status, models, uploader), new EvaluationJob(props, models));
    }

    @Bean
    AgentRunner agentRunner(TaskLoop loop) {
        return new AgentRunner(loop);
    }
}
