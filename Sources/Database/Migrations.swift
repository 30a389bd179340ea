/// Brings the schema up to date: applies, in order, the `steps` the database has not had yet,
/// each in its own transaction, and records how many it has had in `schema_version`. A step may
/// hold several statements separated by semicolons. Safe to call every start, and from two
/// processes at once: they take turns, and the second finds the work done.
/// Returns how many steps it applied.
@discardableResult
public func migrate(_ database: any SQLDatabase, steps: [String]) async throws -> Int {
    let dialect = database.dialect
    @Sendable func lockedVersion(_ connection: any SQLConnection) async throws -> Int {
        if let lock = dialect.migrationLock { try await connection.execute(lock) }
        try await connection.execute("CREATE TABLE IF NOT EXISTS schema_version (id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)")
        try await connection.execute("INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        let version = try await connection.query("SELECT version FROM schema_version WHERE id = 1" + dialect.rowLock)[0].integer("version")
        return Int(version)
    }

    let found = try await database.transaction { try await lockedVersion($0) }
    if found > steps.count {
        throw DatabaseError(database: database.description, "the schema is at version \(found) but this coresdk knows only \(steps.count) migration steps: it is older than the coresdk that last used the database")
    }
    var applied = 0
    for (index, step) in steps.enumerated() where index >= found {
        let ran = try await database.transaction { connection in
            // Another process may have applied it since.
            guard try await lockedVersion(connection) == index else { return false }
            do {
                for statement in SQLText.statements(step) { try await connection.execute(statement) }
            } catch let error as DatabaseError {
                throw DatabaseError(database: error.database, "migration step \(index + 1) of \(steps.count) failed: \(error.message)",
                                    statement: error.statement, isConstraintViolation: error.isConstraintViolation)
            }
            try await connection.execute("UPDATE schema_version SET version = $1 WHERE id = 1", [SQLValue(index + 1)])
            return true
        }
        if ran { applied += 1 }
    }
    return applied
}
