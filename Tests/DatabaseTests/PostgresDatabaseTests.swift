import Database
import TestSupport
import XCTest

/// Connecting to PostgreSQL, and what a user sees when that fails: the database named, the
/// reason, never the password.
final class PostgresDatabaseTests: XCTestCase {
    private func cluster() throws -> PostgresTestCluster { try PostgresTestCluster.shared.get() }

    private func assertRefused(_ url: String, saying reason: String, naming database: String,
                               file: StaticString = #filePath, line: UInt = #line) async {
        let error = await assertDatabaseError(database, saying: reason, file: file, line: line) {
            let opened = try await PostgresDatabase(url: url)
            try? await opened.close()
        }
        XCTAssertEqual(error?.database, database, file: file, line: line)
        for secret in ["hunter22", (try? cluster().password) ?? "hunter22"] {
            XCTAssertFalse(error?.description.contains(secret) ?? false, "the password is in: \(String(describing: error))", file: file, line: line)
        }
    }

    func testUnreachablePortNamesTheServerAndTheReason() async throws {
        // Port 1 is privileged and never a PostgreSQL server here.
        await assertRefused("postgres://coresdk:hunter22@127.0.0.1:1/updates", saying: "refused",
                            naming: "PostgreSQL coresdk@127.0.0.1:1/updates")
    }

    func testWrongPasswordIsRefusedWithoutShowingIt() async throws {
        let cluster = try cluster()
        let url = try cluster.createDatabase()
        let database = String(url.split(separator: "/").last!.split(separator: "?")[0])
        await assertRefused(cluster.url(database: database, password: "hunter22"), saying: "password authentication failed for user \"coresdk\"",
                            naming: "PostgreSQL coresdk@127.0.0.1:\(cluster.port)/\(database)")
    }

    func testMissingDatabaseIsNamed() async throws {
        let cluster = try cluster()
        await assertRefused(cluster.url(database: "no_such_database"), saying: "database \"no_such_database\" does not exist",
                            naming: "PostgreSQL coresdk@127.0.0.1:\(cluster.port)/no_such_database")
    }

    func testMalformedURLsAreRefusedWithoutRepeatingThem() async {
        for (url, reason) in [
            ("mysql://coresdk:hunter22@127.0.0.1/updates", "the scheme \"mysql\""),
            ("postgres://coresdk:hunter22@127.0.0.1:port/updates", "is not a URL"),
            ("postgres://coresdk:hunter22@127.0.0.1/updates?sslmode=sometimes", "sslmode=sometimes"),
            ("postgres://coresdk:hunter22@127.0.0.1/updates?pool=9", "the parameter \"pool\""),
            ("postgres://coresdk:hunter22@127.0.0.1/updates/extra", "more than a database name"),
        ] {
            await assertRefused(url, saying: reason, naming: "PostgreSQL")
        }
    }

    func testSocketDirectoryAsHostConnects() async throws {
        let cluster = try cluster()
        let url = try cluster.createDatabase()
        let database = String(url.split(separator: "/").last!.split(separator: "?")[0])
        // Local connections are trusted in the test cluster; the password is not needed.
        let opened = try await PostgresDatabase(url: "postgres://coresdk@%2Fvar%2Frun%2Fpostgresql:\(cluster.port)/\(database)")
        XCTAssertEqual(opened.description, "PostgreSQL coresdk@/var/run/postgresql/\(database)")
        let user = try await opened.transaction { try await $0.query("SELECT current_user AS name")[0].text("name") }
        XCTAssertEqual(user, "coresdk")
        try await opened.close()
    }

    func testDefaultSSLModeConnects() async throws {
        // sslmode=prefer, as libpq: encrypted if the server offers it (Debian's self-signed certificate is accepted).
        let cluster = try cluster()
        let url = try cluster.createDatabase().replacingOccurrences(of: "?sslmode=disable", with: "")
        let opened = try await PostgresDatabase(url: url)
        let one = try await opened.transaction { try await $0.query("SELECT 1 AS one")[0].integer("one") }
        XCTAssertEqual(one, 1)
        try await opened.close()
    }
}
