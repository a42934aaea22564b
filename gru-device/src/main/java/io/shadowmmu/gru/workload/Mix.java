package io.shadowmmu.gru.workload;

/** Shares of loads, stores and AMOs in a generated instruction stream (percentages summing to 100). */
public record Mix(int loadPercent, int storePercent, int amoPercent) {
    public static final Mix DEFAULT = new Mix(50, 35, 15);

    public Mix {
        if (loadPercent < 0 || storePercent < 0 || amoPercent < 0
                || loadPercent + storePercent + amoPercent != 100) {
            throw new IllegalArgumentException("instruction mix must be three non-negative percentages summing to "
                    + "100: loads " + loadPercent + ", stores " + storePercent + ", AMOs " + amoPercent);
        }
    }
}
