/// Lets at most `limit` callers in at once; the rest wait their turn, first come first served.
public actor SetupGate {
    /// The PostgreSQL set-ups of every test target (a database created, a pool opened, migrations run). Dozens
    /// of tests start at once; all those set-ups together on 2 cores (next to CPU-heavy suites) kept some of them
    /// past the store's 5 s deadline in CI, so they take turns; the tests themselves still run side by side.
    public static let postgres = SetupGate(limit: 2)
    private let limit: Int
    private var inside = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = limit }

    public func enter() async {
        if inside < limit {
            inside += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func leave() {
        if waiting.isEmpty { inside -= 1 } else { waiting.removeFirst().resume() }
    }
}
