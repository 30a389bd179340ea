import Foundation
import XCTest
@testable import Recipes

/// `libraries: [gpt]`: folders of `recipes/lib/` that a source recipe builds with.
final class RecipeLibraryTests: RepositoryTestCase {
    private func load(_ name: String, _ text: String) throws -> Recipe {
        try fixture.write("recipes/\(name)/src/Makefile", "all:\n")
        try fixture.write("recipes/\(name).yaml", text)
        return try fixture.repository.loadRecipe(named: name)
    }

    private func tool(libraries: String) -> String {
        "name: tool\nversion: '1'\nkind: source\nbuild: make\nlibraries: \(libraries)\nsources: [src]\n"
    }

    func testLibrariesNameFoldersOfRecipesLib() throws {
        try fixture.write("recipes/lib/gpt/gpt.c", "")
        try fixture.write("recipes/lib/crc/crc.c", "")
        let recipe = try load("tool", tool(libraries: "[gpt, crc]"))
        XCTAssertEqual(recipe.libraries, ["gpt", "crc"])
        XCTAssertEqual(recipe.libraryDirectories.map(\.name), ["gpt", "crc"])
        XCTAssertEqual(recipe.libraryDirectories.map { $0.url.standardizedFileURL.path },
                       ["recipes/lib/gpt", "recipes/lib/crc"].map { fixture.root.appendingPathComponent($0).standardizedFileURL.path })
        XCTAssertEqual(recipe.location(ofKey: "libraries")?.description, "recipes/tool.yaml:5:12")
        XCTAssertEqual(try load("bare", "name: bare\nversion: '1'\nkind: source\nsources: [src]\nbuild: make\n").libraries, [],
                       "left out, a recipe has no libraries")
    }

    func testAMissingLibraryIsReportedWithTheKnownOnes() throws {
        XCTAssertConfigError(try load("tool", tool(libraries: "[gpt]")), at: "recipes/tool.yaml:5:13",
                             "no library 'gpt' in recipes/lib/ (known: none)")
        try fixture.write("recipes/lib/gpt/gpt.c", "")
        try fixture.write("recipes/lib/crc/crc.c", "")
        try fixture.write("recipes/lib/NOTES", "a file, not a library")
        XCTAssertConfigError(try load("tool", tool(libraries: "[gpt, zlib]")), at: "recipes/tool.yaml:5:18",
                             "no library 'zlib' in recipes/lib/ (known: crc, gpt)")
        XCTAssertConfigError(try load("tool", tool(libraries: "[NOTES]")), at: "recipes/tool.yaml:5:13",
                             "'NOTES' is not a valid library name")
        XCTAssertConfigError(try load("tool", tool(libraries: "[gpt, gpt]")), at: "recipes/tool.yaml:5:18",
                             "'gpt' is listed twice in 'libraries'")
    }

    func testLibraryNamesCannotLeaveRecipesLib() throws {
        try fixture.write("recipes/lib/gpt/gpt.c", "")
        try fixture.write("outside/secret/key.c", "")
        for escaping in ["../tool", "/etc", "gpt/../..", "..", "lib/gpt"] {
            XCTAssertConfigError(try load("tool", tool(libraries: "['\(escaping)']")), at: "recipes/tool.yaml:5:13",
                                 "is not a valid library name")
        }
        try FileManager.default.createSymbolicLink(atPath: fixture.root.appendingPathComponent("recipes/lib/secret").path,
                                                   withDestinationPath: "../../outside/secret")
        XCTAssertConfigError(try load("tool", tool(libraries: "[secret]")), at: "recipes/tool.yaml:5:13",
                             "symbolic link that leads out of recipes/lib/")
    }

    func testOnlySourceRecipesHaveLibraries() throws {
        try fixture.write("recipes/lib/gpt/gpt.c", "")
        XCTAssertConfigError(try load("conf", "name: conf\nversion: '1'\nkind: files\nlibraries: [gpt]\n"),
                             at: "recipes/conf.yaml:4:1", "key 'libraries' is not allowed in recipe",
                             "only recipes of kind source are built")
    }

    func testNoRecipeMayBeNamedLib() throws {
        try fixture.write("recipes/lib/gpt/gpt.c", "")
        XCTAssertConfigError(try load("lib", "name: lib\nversion: '1'\nkind: files\n"), at: "recipes/lib.yaml:1:7",
                             "'lib' cannot name a recipe", "the folder of the libraries", "rename recipes/lib.yaml")
    }

    func testTheReferenceDescribesLibraries() {
        let documentation = RecipeRepository.documentation()
        XCTAssertTrue(documentation.contains(
            "| `libraries` | list of library names | default `[]` for kind `source`; not allowed otherwise | Folders of `recipes/lib/`"),
                      documentation)
        XCTAssertTrue(documentation.contains("not `lib`, which is the libraries' folder"), documentation)
    }
}
