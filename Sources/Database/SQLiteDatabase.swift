import Dispatch

/// The embedded store: one SQLite file, one connection. Write transactions run one at a time —
/// in this process through an async lock, across processes through SQLite's own file lock
/// (BEGIN IMMEDIATE, waiting up to 5 s for another process's transaction).
public final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    // @unchecked: `handle` is used only on `queue`, and only by the transaction holding `lock`.
    public let dialect = SQLDialect.sqlite
    public let path: String
    public let description: String
    private let handle: SQLiteHandle
    private let lock = AsyncMutex()
    /// SQLite calls block (on disk, or up to the busy timeout on another process): they run
    /// here rather than on a thread of Swift's small cooperative pool.
    private let queue = DispatchQueue(label: "coresdk.database.sqlite")

    /// Opens `path`, creating it if it does not exist.
    public init(path: String) throws {
        self.path = path
        handle = try SQLiteHandle(path: path)
        description = handle.label
    }

    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try TransactionRunner.refuseNesting(in: self, label: description)
        return try await lock.withLock {
            try await TransactionRunner.run(in: self, label: description, TransactionRunner.Steps(
                // IMMEDIATE takes the write lock at once: a transaction that read under a shared
                // lock and then wrote could otherwise fail with SQLITE_BUSY instead of waiting.
                begin: { try await self.run("BEGIN IMMEDIATE", []) },
                commit: { try await self.run("COMMIT", []) },
                rollback: { _ = try? await self.run("ROLLBACK", []) }
            ), connection: { SQLiteConnection(database: self, state: $0) }, body)
        }
    }

    public func close() async throws {
        try TransactionRunner.refuseNesting(in: self, label: description)
        return try await lock.withLock { _ = await onQueue { $0.close() } }
    }

    @discardableResult
    fileprivate func run(_ sql: String, _ bindings: [SQLValue]) async throws -> (rows: [SQLRow], changes: Int) {
        try await onQueue { try $0.run(sql, bindings) }.get()
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable (SQLiteHandle) throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { try work(self.handle) }) }
        }
    }
}

private struct SQLiteConnection: SQLConnection {
    let database: SQLiteDatabase
    let state: TransactionState

    func query(_ sql: String, _ bindings: [SQLValue]) async throws -> [SQLRow] {
        try await state.statement(sql) { try await database.run(sql, bindings).rows }
    }

    func execute(_ sql: String, _ bindings: [SQLValue]) async throws -> Int {
        try await state.statement(sql) { try await database.run(sql, bindings).changes }
    }
}
