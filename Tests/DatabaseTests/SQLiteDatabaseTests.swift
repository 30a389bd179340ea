import Database
import Foundation
import TestSupport
import XCTest

final class SQLiteDatabaseTests: XCTestCase {
    func testTwoHandlesOnOneFileBothCommit() async throws {
        let scratch = try Scratch()
        let path = scratch.path("server.db").path
        let first = try SQLiteDatabase(path: path), second = try SQLiteDatabase(path: path)
        try await first.transaction { try await $0.execute("CREATE TABLE machine (id TEXT PRIMARY KEY)") }
        // Interleaved as two server processes would: each waits for the other's write lock.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, database) in [("a", first), ("b", second)] {
                group.addTask {
                    for index in 0..<50 {
                        try await database.transaction { try await $0.execute("INSERT INTO machine (id) VALUES ($1)", [.text("\(name)\(index)")]) }
                    }
                }
            }
            try await group.waitForAll()
        }
        for database in [first, second] {
            let count = try await rowCount("machine", in: database)
            XCTAssertEqual(count, 100)
        }
        try await first.close()
        try await second.close()
    }

    func testReopenedFileKeepsCommittedData() async throws {
        let scratch = try Scratch()
        let path = scratch.path("server.db").path
        let database = try SQLiteDatabase(path: path)
        try await migrate(database, steps: ["CREATE TABLE channel (name TEXT PRIMARY KEY, version TEXT NOT NULL)"])
        try await database.transaction { try await $0.execute("INSERT INTO channel (name, version) VALUES ('stable', '4081.2.0')") }
        try await database.close()

        let reopened = try SQLiteDatabase(path: path)
        let applied = try await migrate(reopened, steps: ["CREATE TABLE channel (name TEXT PRIMARY KEY, version TEXT NOT NULL)"])
        XCTAssertEqual(applied, 0)
        let version = try await reopened.transaction { try await $0.query("SELECT version FROM channel WHERE name = 'stable'")[0].text("version") }
        XCTAssertEqual(version, "4081.2.0")
        try await reopened.close()
    }

    func testFileIsInWriteAheadLogModeWithForeignKeys() async throws {
        let scratch = try Scratch()
        let database = try SQLiteDatabase(path: scratch.path("server.db").path)
        let settings = try await database.transaction { connection in
            [try await connection.query("PRAGMA journal_mode")[0].text("journal_mode"),
             String(try await connection.query("PRAGMA synchronous")[0].integer("synchronous")),
             String(try await connection.query("PRAGMA foreign_keys")[0].integer("foreign_keys"))]
        }
        // synchronous 1 is NORMAL.
        XCTAssertEqual(settings, ["wal", "1", "1"])
        try await database.close()
        XCTAssertTrue(try scratch.names().contains("server.db"))
    }

    func testUnopenableFileNamesItsPath() throws {
        let path = "/nonexistent-coresdk-directory/server.db"
        XCTAssertThrowsError(try SQLiteDatabase(path: path)) { error in
            XCTAssertEqual("\(error)", "SQLite \(path): cannot open the database: unable to open database file")
        }
    }

    func testOneStatementPerCall() async throws {
        let scratch = try Scratch()
        let database = try SQLiteDatabase(path: scratch.path("server.db").path)
        await assertDatabaseError("two statements", saying: "one statement at a time") {
            _ = try await database.transaction { try await $0.execute("CREATE TABLE a (id BIGINT); CREATE TABLE b (id BIGINT)") }
        }
        try await database.close()
    }
}
