import CSQLite

/// The one owner of a sqlite3 connection and its prepared statements; the only file that calls
/// the SQLite library. Not thread-safe (opened NOMUTEX): `SQLiteDatabase` confines it to one
/// serial queue and one transaction at a time.
final class SQLiteHandle {
    /// "SQLite <path>", the start of every error.
    let label: String
    private var connection: OpaquePointer?
    /// Prepared once per SQL text: the server runs the same few statements over and over.
    private var statements: [String: OpaquePointer] = [:]

    init(path: String) throws {
        label = "SQLite \(path)"
        // NOMUTEX: SQLite's own locking would only repeat the serialization SQLiteDatabase does.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        var opened: OpaquePointer?
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        connection = opened
        guard status == SQLITE_OK else {
            let error = failure(status, "cannot open the database")
            sqlite3_close_v2(opened)
            connection = nil
            throw error
        }
        sqlite3_extended_result_codes(opened, 1)
        // Two processes on one file wait for each other's write transactions rather than fail.
        sqlite3_busy_timeout(opened, 5_000)
        // WAL with synchronous=NORMAL: a commit is in the WAL file before COMMIT returns, so a
        // killed process (kill -9) loses nothing; only a power loss can drop the last
        // transactions (never corrupt the file). It saves an fsync per commit, which is what
        // makes thousands of small write transactions a second possible.
        let mode = try run("PRAGMA journal_mode=WAL", []).rows.first?.values.first
        guard mode == .text("wal") else {
            throw DatabaseError(database: label, "cannot use write-ahead logging (journal_mode is \(mode ?? .null)): is the file on a network file system?")
        }
        _ = try run("PRAGMA synchronous=NORMAL", [])
        _ = try run("PRAGMA foreign_keys=ON", [])
    }

    deinit { close() }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        sqlite3_close_v2(connection)
        connection = nil
    }

    /// Runs one statement (PostgreSQL placeholders already rewritten or not: both are handled)
    /// and returns its rows and how many rows it inserted, updated or deleted.
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> (rows: [SQLRow], changes: Int) {
        guard let connection else { throw DatabaseError(database: label, "the database was closed", statement: sql) }
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard bindings.count == expected else {
            throw DatabaseError(database: label, "the statement has \(expected) placeholders but \(bindings.count) values were bound", statement: sql)
        }
        for (offset, value) in bindings.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let integer): status = sqlite3_bind_int64(statement, index, integer)
            case .text(let text):
                // Bound with its byte count (text may hold NUL) and SQLITE_TRANSIENT, a C macro
                // Swift cannot import: SQLite copies the bytes.
                let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
                var text = text
                status = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { characters in
                        // An empty buffer may have no address, and a NULL pointer would bind NULL.
                        guard let start = characters.baseAddress else {
                            return sqlite3_bind_text64(statement, index, "", 0, transient, UInt8(SQLITE_UTF8))
                        }
                        return sqlite3_bind_text64(statement, index, start, sqlite3_uint64(characters.count), transient, UInt8(SQLITE_UTF8))
                    }
                }
            }
            guard status == SQLITE_OK else { throw failure(status, "cannot bind value \(offset + 1)", statement: sql) }
        }

        let changesBefore = sqlite3_total_changes64(connection)
        let columnCount = sqlite3_column_count(statement)
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(statement, $0)) }
        var rows: [SQLRow] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw failure(status, nil, statement: sql) }
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_NULL: values.append(.null)
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let text = sqlite3_column_text(statement, column).map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? ""
                    values.append(.text(text))
                case let type:
                    let value = type == SQLITE_FLOAT ? "a REAL number" : "a BLOB"
                    throw DatabaseError(database: label, "column \"\(columns[Int(column)])\" holds \(value); only integers and text are supported (CAST it to INTEGER or TEXT)", statement: sql)
                }
            }
            rows.append(SQLRow(columns: columns, values: values, database: label))
        }
        // sqlite3_changes keeps the count of the last INSERT, UPDATE or DELETE, even after a
        // SELECT or CREATE: count it only when this statement changed rows.
        let changed = sqlite3_total_changes64(connection) != changesBefore ? Int(sqlite3_changes64(connection)) : 0
        return (rows, changed)
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let text = SQLText.sqlitePlaceholders(sql)
        let status = sqlite3_prepare_v3(connection, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
        guard status == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw failure(status, nil, statement: sql)
        }
        if let tail, !String(cString: tail).allSatisfy(\.isWhitespace) {
            sqlite3_finalize(statement)
            throw DatabaseError(database: label, "one statement at a time: the text goes on after a semicolon", statement: sql)
        }
        if statements.count >= 500 {  // SQL built from data (IN lists of any length) would otherwise keep every variant
            for cached in statements.values { sqlite3_finalize(cached) }
            statements = [:]
        }
        statements[sql] = statement
        return statement
    }

    /// The error SQLite reports for `status`, with what was being done.
    private func failure(_ status: Int32, _ doing: String?, statement: String? = nil) -> DatabaseError {
        let reason = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
        let message = doing.map { "\($0): \(reason)" } ?? reason
        return DatabaseError(database: label, message, statement: statement,
                             isConstraintViolation: status & 0xff == SQLITE_CONSTRAINT)
    }
}
