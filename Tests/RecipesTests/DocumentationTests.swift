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
                         "| `compression` | string (no spaces) | optional | Compressor passed to mkfs, with a level after a colon "
                            + "where it takes one; erofs takes lz4hc, lz4, none; squashfs takes gzip[:1–9], lzo[:1–9], lz4, xz, zstd[:1–22]. "
                            + "Left out, the builder chooses. |",
                         "| `arch` | `amd64`, `arm64` | required | The Debian architecture of the image; only `amd64` can be built today. |",
                         "`MiB` (1048576)", "## Boards: `boards/<name>.yaml`", "### `layout.partitions` entries"] {
            XCTAssertTrue(documentation.contains(expected), "missing: \(expected)\n\(documentation)")
        }
    }
}
