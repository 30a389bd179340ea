import XCTest
@testable import Recipes

final class DocumentationTests: XCTestCase {
    func testDocumentationListsEveryKeyOfEveryTable() {
        let documentation = RecipeRepository.documentation()
        let tables: [(String, [String])] = [
            ("recipe", Recipe.keys.names), ("files entry", RecipeFile.keys.names), ("board", Board.keys.names),
            ("os", Board.OS.keys.names), ("kernel", Board.Kernel.keys.names), ("usr", Board.Usr.keys.names),
            ("layout", Board.Layout.keys.names), ("partition", Board.Partition.keys.names),
        ]
        for (table, names) in tables {
            XCTAssertFalse(names.isEmpty, table)
            for name in names {
                XCTAssertTrue(documentation.contains("| `\(name)` |"), "\(table) key '\(name)' is not documented")
            }
        }
        XCTAssertEqual(Board.Partition.keys.names,
                       ["number", "label", "type", "size", "uuid", "filesystem", "priority", "tries", "successful"])
    }

    func testDocumentationShowsTypesDefaultsAndRules() {
        let documentation = RecipeRepository.documentation()
        for expected in ["| `kind` | `debian`, `source`, `files` | required |",
                         "| `version` | string (no spaces) | required for kinds `source` and `files`; optional for `debian` |",
                         "| `outputs` | list of values from raw, qcow2 | default `[raw, qcow2]` |",
                         "| `depends` | list of names | default `[]` |",
                         "| `alignment` | size | default `2MiB` |",
                         "| `version-id` | — | not allowed:",
                         "| `priority` | integer 0–15 | default `0` |",
                         "`MiB` (1048576)", "## Boards: `boards/<name>.yaml`", "### `layout.partitions` entries"] {
            XCTAssertTrue(documentation.contains(expected), "missing: \(expected)\n\(documentation)")
        }
    }
}
