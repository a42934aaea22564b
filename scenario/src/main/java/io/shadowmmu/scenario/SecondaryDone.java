package io.shadowmmu.scenario;

/**
 * A caller's secondary finished its work ({@link SecondaryContext#done()}).
 *
 * @param accesses what it counts as its work done (reads through its translations, say)
 * @param failure  null when it ran as it should, else why not (the scenario then fails with it)
 */
public record SecondaryDone(String name, long accesses, String failure) {
    public static SecondaryDone ok(String name, long accesses) {
        return new SecondaryDone(name, accesses, null);
    }
}
