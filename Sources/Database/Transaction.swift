import Synchronization

/// What both stores do around a transaction's body: refuse a nested call (on SQLite it would wait
/// for itself forever), begin, run the body, commit or roll back, and end the connection the body
/// was given so that a copy kept past the transaction cannot run statements in a later one.
enum TransactionRunner {
    @TaskLocal private static var openIn: [ObjectIdentifier] = []

    struct Steps {
        var begin: () async throws -> Void
        var commit: () async throws -> Void
        var rollback: () async -> Void
    }

    /// Throws when the current task is inside a transaction of `database`; called before
    /// waiting for the lock or a connection.
    static func refuseNesting(in database: AnyObject, label: String) throws {
        guard !openIn.contains(ObjectIdentifier(database)) else {
            throw DatabaseError(database: label, "transaction() was called inside a transaction of the same database: run the statements on the connection the outer transaction gave")
        }
    }

    static func run<T: Sendable>(in database: AnyObject, label: String, _ steps: Steps,
                                 connection makeConnection: (TransactionState) -> any SQLConnection,
                                 _ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        let id = ObjectIdentifier(database)
        try await steps.begin()
        let state = TransactionState(database: label)
        do {
            let result = try await $openIn.withValue(openIn + [id]) { try await body(makeConnection(state)) }
            if let failure = state.end() {
                // The body caught a failed statement and returned: PostgreSQL would quietly turn
                // the COMMIT into a rollback, so say what was lost.
                throw DatabaseError(database: label, "the transaction was rolled back because a statement in it failed: \(failure)")
            }
            try await steps.commit()
            return result
        } catch {
            _ = state.end()
            await steps.rollback()
            throw error
        }
    }
}

/// Whether a transaction's connection may still run statements.
final class TransactionState: Sendable {
    private let state = Mutex<(ended: Bool, failure: (any Error)?)>((false, nil))
    let database: String

    init(database: String) { self.database = database }

    /// Runs one statement of the transaction; after a failure the transaction is over.
    func statement<T>(_ sql: String, _ run: () async throws -> T) async throws -> T {
        let (ended, failure) = state.withLock { ($0.ended, $0.failure) }
        if ended {
            throw DatabaseError(database: database, "a transaction's connection was used after the transaction ended", statement: sql)
        }
        if let failure {
            throw DatabaseError(database: database, "an earlier statement of this transaction failed, so it can only roll back (\(failure))", statement: sql)
        }
        do {
            return try await run()
        } catch {
            state.withLock { $0.failure = $0.failure ?? error }
            throw error
        }
    }

    /// Ends the transaction for its connection; returns the first failed statement's error.
    func end() -> (any Error)? {
        state.withLock { state in
            state.ended = true
            return state.failure
        }
    }
}
