package io.shadowmmu.hostmm.host;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A short-lived actor that asks every target the same question and hands the answers to {@code done} once all
 * answered, or with what it has after {@link HostActor#QUERY_TIMEOUT} (a process may exit meanwhile).
 */
final class Gatherer {
    private enum Timeout {
        INSTANCE
    }

    private record Gone(ActorRef<?> target) {
    }

    private Gatherer() {
    }

    static <C, R> Behavior<Object> create(List<ActorRef<C>> targets, Function<ActorRef<R>, C> question,
                                          Class<R> answerType, Consumer<List<R>> done) {
        return Behaviors.setup(ctx -> {
            List<R> answers = new ArrayList<>(targets.size());
            int[] missing = {0};
            if (targets.isEmpty()) {
                done.accept(answers);
                return Behaviors.stopped();
            }
            @SuppressWarnings("unchecked")
            ActorRef<R> self = (ActorRef<R>) (ActorRef<?>) ctx.getSelf();
            for (ActorRef<C> t : targets) {
                ctx.watchWith(t, new Gone(t)); // a target that stops meanwhile will never answer
                t.tell(question.apply(self));
            }
            return Behaviors.withTimers(timers -> {
                timers.startSingleTimer(Timeout.INSTANCE, HostActor.QUERY_TIMEOUT);
                return Behaviors.receive(Object.class)
                        .onMessage(answerType, answer -> {
                            answers.add(answer);
                            if (answers.size() + missing[0] == targets.size()) {
                                done.accept(answers);
                                return Behaviors.stopped();
                            }
                            return Behaviors.same();
                        })
                        .onMessage(Gone.class, g -> {
                            missing[0]++;
                            if (answers.size() + missing[0] == targets.size()) {
                                done.accept(answers);
                                return Behaviors.stopped();
                            }
                            return Behaviors.same();
                        })
                        .onMessageEquals(Timeout.INSTANCE, () -> {
                            done.accept(answers);
                            return Behaviors.stopped();
                        })
                        .build();
            });
        });
    }
}
