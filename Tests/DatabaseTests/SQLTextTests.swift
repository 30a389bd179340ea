@testable import Database
import XCTest

final class SQLTextTests: XCTestCase {
    func testPlaceholdersAreRewrittenOnlyInCode() {
        XCTAssertEqual(SQLText.sqlitePlaceholders("SELECT $1, $12 FROM t WHERE a = $1"), "SELECT ?1, ?12 FROM t WHERE a = ?1")
        XCTAssertEqual(SQLText.sqlitePlaceholders("SELECT '$1', \"$2\", `$3` -- $4\n, /* $5 */ $6"), "SELECT '$1', \"$2\", `$3` -- $4\n, /* $5 */ ?6")
        XCTAssertEqual(SQLText.sqlitePlaceholders("SELECT 'it''s $1', E'\\' $2', $3"), "SELECT 'it''s $1', E'\\' $2', ?3")
        XCTAssertEqual(SQLText.sqlitePlaceholders("SELECT $$ $1 $$, $body$ $2 $body$, a$1, $3"), "SELECT $$ $1 $$, $body$ $2 $body$, a$1, ?3")
    }

    func testScriptsSplitAtSemicolonsBetweenStatements() {
        let script = """
            CREATE TABLE a (note TEXT DEFAULT 'x;y');
            -- a comment; with a semicolon
            INSERT INTO a VALUES ('1;2') ;
            ;
            """
        XCTAssertEqual(SQLText.statements(script), [
            "CREATE TABLE a (note TEXT DEFAULT 'x;y')",
            "\n-- a comment; with a semicolon\nINSERT INTO a VALUES ('1;2') ",
        ])
        XCTAssertEqual(SQLText.statements("SELECT 1"), ["SELECT 1"])
        XCTAssertEqual(SQLText.statements("-- nothing\n"), [])
    }
}
