package io.shadowmmu.guest.workload;

/**
 * Pages are chosen with a Zipf distribution (rank r has weight 1/r^theta), so a few hot pages take most accesses,
 * like a database's hot rows. Uses the closed-form sampler of Gray et al. ("Quickly generating billion-record
 * synthetic databases", 1994), which needs one pass over the ranks at construction and O(1) per sample. Ranks are
 * spread over the region by a fixed odd multiplier so hot pages are not all adjacent.
 */
public final class ZipfianHotSet extends SyntheticWorkload {
    private final long pages;
    private final double theta;
    private final double zetaN;
    private final double alpha;
    private final double eta;
    private final double halfPowTheta;
    private final long spread;

    public ZipfianHotSet(Region region, long accesses, double writeFraction, double theta, long seed) {
        super(region, accesses, writeFraction, seed);
        if (!(theta > 0.0 && theta < 1.0)) {
            throw new IllegalArgumentException("zipf theta must be in (0, 1): " + theta);
        }
        this.pages = region.pages();
        this.theta = theta;
        this.zetaN = zeta(pages, theta);
        double zeta2 = zeta(2, theta);
        this.alpha = 1.0 / (1.0 - theta);
        this.eta = (1.0 - Math.pow(2.0 / pages, 1.0 - theta)) / (1.0 - zeta2 / zetaN);
        this.halfPowTheta = 1.0 + Math.pow(0.5, theta);
        this.spread = coprimeMultiplier(pages);
    }

    /** The rank (0 = hottest) of the next sample. Visible for tests of the distribution's shape. */
    long nextRank() {
        double u = random.nextDouble();
        double uz = u * zetaN;
        if (uz < 1.0) {
            return 0;
        }
        if (uz < halfPowTheta) {
            return Math.min(1, pages - 1);
        }
        long r = (long) (pages * Math.pow(eta * u - eta + 1.0, alpha));
        return Math.min(Math.max(r, 0), pages - 1);
    }

    @Override
    protected long nextAddress() {
        long page = Math.floorMod(nextRank() * spread, pages);
        return randomWordIn(page);
    }

    @Override
    public String name() {
        return "zipfian";
    }

    public double theta() {
        return theta;
    }

    private static double zeta(long n, double theta) {
        double sum = 0;
        for (long i = 1; i <= n; i++) {
            sum += 1.0 / Math.pow(i, theta);
        }
        return sum;
    }

    /** An odd multiplier coprime with {@code n}, so rank -> page is a permutation. */
    private static long coprimeMultiplier(long n) {
        long m = 0x9E3779B1L % Math.max(n, 1);
        if (m == 0) {
            m = 1;
        }
        while (gcd(m, n) != 1) {
            m++;
        }
        return m;
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }
}
