import Foundation
import XCTest
@testable import Recipes

final class RecipeLoadingTests: RepositoryTestCase {
    private func load(_ name: String, _ text: String) throws -> Recipe {
        try fixture.write("recipes/\(name).yaml", text)
        return try fixture.repository.loadRecipe(named: name)
    }

    // MARK: Valid recipes

    func testDebianRecipeLoadsWithDefaults() throws {
        let text = "name: systemd\nkind: debian\npackages: [systemd, udev]\n"
        let recipe = try load("systemd", text)
        XCTAssertEqual(recipe.name, "systemd")
        XCTAssertEqual(recipe.kind, .debian)
        XCTAssertNil(recipe.version)
        XCTAssertNil(recipe.description)
        XCTAssertEqual(recipe.packages, ["systemd", "udev"])
        XCTAssertEqual(recipe.depends, [])
        XCTAssertEqual(recipe.sources, [])
        XCTAssertNil(recipe.buildScript)
        XCTAssertEqual(recipe.buildTools, [])
        XCTAssertTrue(recipe.files.isEmpty)
        XCTAssertEqual(recipe.text, text)
        XCTAssertEqual(recipe.fileURL.lastPathComponent, "systemd.yaml")
        XCTAssertEqual(recipe.directory.lastPathComponent, "systemd")
        XCTAssertEqual(recipe.location(ofKey: "packages")?.description, "recipes/systemd.yaml:3:11")
        XCTAssertNil(recipe.location(ofKey: "depends"), "a defaulted key was not written anywhere")
    }

    func testSourceRecipeLoadsItsScriptToolsAndFiles() throws {
        try fixture.write("recipes/gptprio/src/Makefile", "all:\n")
        try fixture.write("recipes/gptprio/files/gptprio.conf", "x\n")
        try fixture.write("recipes/gptprio/files/run.sh", "#!/bin/sh\n")
        let recipe = try load("gptprio", """
            name: gptprio
            version: "1.0"
            kind: source
            description: Flips the A/B bits.
            depends: [systemd]
            sources: [src/, ./src/../src]
            build-tools: [cc, make]
            build: |
              make -C "$SRCDIR/src" install DESTDIR="$DESTDIR"
            files:
              - {source: files/gptprio.conf, path: /usr/lib/gptprio.conf}
              - source: files/run.sh
                path: /usr/bin/gptprio-run
                mode: "0755"
            """)
        XCTAssertEqual(recipe.kind, .source)
        XCTAssertEqual(recipe.version, "1.0")
        XCTAssertEqual(recipe.description, "Flips the A/B bits.")
        XCTAssertEqual(recipe.depends, ["systemd"])
        XCTAssertEqual(recipe.dependencyEntries.first?.location.description, "recipes/gptprio.yaml:5:11")
        XCTAssertEqual(recipe.sources, ["src", "src"], "sources are normalized")
        XCTAssertEqual(recipe.buildTools, ["cc", "make"])
        XCTAssertEqual(recipe.buildScript, "make -C \"$SRCDIR/src\" install DESTDIR=\"$DESTDIR\"\n")
        XCTAssertEqual(recipe.files.map(\.source), ["files/gptprio.conf", "files/run.sh"])
        XCTAssertEqual(recipe.files.map(\.path), ["/usr/lib/gptprio.conf", "/usr/bin/gptprio-run"])
        XCTAssertEqual(recipe.files.map(\.mode), [nil, 0o755])
        XCTAssertEqual(recipe.files[1].location(ofKey: "mode")?.description, "recipes/gptprio.yaml:14:11")
    }

    func testVersionWrittenAsANumberKeepsItsText() throws {
        try fixture.write("recipes/conf/a.conf", "")
        let recipe = try load("conf", "name: conf\nkind: files\nversion: 1.10\nfiles: [{source: a.conf, path: /etc/a}]\n")
        XCTAssertEqual(recipe.version, "1.10")
    }

    // MARK: What the YAML says

    func testYAMLSyntaxErrorIsReportedAtYamsLine() {
        XCTAssertConfigError(try load("bad", "name: bad\nkind: debian\npackages: [a, b\n"),
                             at: "recipes/bad.yaml:4:1", "YAML syntax error", "flow sequence")
    }

    func testUnknownKeyIsReportedAtTheKeyWithTheKnownKeys() {
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\ndependz: [a]\npackages: [etcd]\n"),
                             at: "recipes/etcd.yaml:3:1", "unknown key 'dependz' in recipe",
                             "known keys: name, kind, version, description, depends, packages")
    }

    func testUnknownKeyInAFilesEntryIsReportedWhereItIsWritten() throws {
        try fixture.write("recipes/conf/a.conf", "")
        XCTAssertConfigError(try load("conf", "name: conf\nversion: '1'\nkind: files\nfiles:\n  - {source: a.conf, path: /etc/a, owner: root}\n"),
                             at: "recipes/conf.yaml:5:36", "unknown key 'owner' in 'files' entry", "known keys: source, path, mode")
    }

    func testDuplicateKeyIsReportedAtTheSecond() {
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [a]\nkind: source\n"),
                             at: "recipes/etcd.yaml:4:1", "duplicate key 'kind' in recipe", "first at line 2")
    }

    func testWrongTypeNamesTheKeyAndWhatWasWritten() {
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd]\ndepends:\n  systemd: yes\n"),
                             at: "recipes/etcd.yaml:5:3", "expected a list of names for 'depends', got a mapping")
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd, [x]]\n"),
                             at: "recipes/etcd.yaml:3:18", "expected a Debian package name for 'packages', got a list")
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd]\ndescription:\n"),
                             at: "recipes/etcd.yaml:4:13", "expected a string for 'description', got nothing")
        XCTAssertConfigError(try load("etcd", "- name: etcd\n"),
                             at: "recipes/etcd.yaml:1:1", "expected a mapping of recipe keys, got a list")
    }

    func testMissingRequiredKeyIsReportedAtTheStartOfTheMapping() {
        XCTAssertConfigError(try load("etcd", "# etcd\nname: etcd\npackages: [etcd]\n"),
                             at: "recipes/etcd.yaml:2:1", "missing required key 'kind' in recipe", "one of debian, source, files")
        XCTAssertConfigError(try load("empty", ""), at: "recipes/empty.yaml:1:1", "missing required key 'name'")
    }

    func testUnknownKindListsTheKinds() {
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: deb\n"),
                             at: "recipes/etcd.yaml:2:7", "expected one of debian, source, files for 'kind', got 'deb'")
    }

    func testVersionIsRequiredForSourceAndFilesRecipes() throws {
        XCTAssertConfigError(try load("conf", "name: conf\nkind: files\n"),
                             at: "recipes/conf.yaml:1:1", "missing required key 'version' in recipe")
        XCTAssertNil(try load("kernel", "name: kernel\nkind: debian\npackages: [linux-image-amd64]\n").version)
    }

    func testKeysOfAnotherKindAreRefused() {
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: files\nversion: '1'\npackages: [etcd]\n"),
                             at: "recipes/etcd.yaml:4:1", "key 'packages' is not allowed in recipe", "only recipes of kind debian")
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd]\nbuild: make\n"),
                             at: "recipes/etcd.yaml:4:1", "key 'build' is not allowed in recipe", "only recipes of kind source")
    }

    func testDisabledUnitsAreUnitNamesOfDebianRecipes() throws {
        let recipe = try load("etcd", "name: etcd\nkind: debian\npackages: [etcd-server]\ndisabled-units: [etcd.service, etcd@a\\x2db.socket]\n")
        XCTAssertEqual(recipe.disabledUnits, ["etcd.service", "etcd@a\\x2db.socket"])
        XCTAssertEqual(recipe.disabledUnitEntries.first?.location.description, "recipes/etcd.yaml:4:18")
        XCTAssertEqual(try load("tools", "name: tools\nkind: debian\npackages: [kmod]\n").disabledUnits, [])
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd-server]\ndisabled-units: [etcd]\n"),
                             at: "recipes/etcd.yaml:4:18", "'etcd' is not a valid systemd unit name", "ending in .service")
        XCTAssertConfigError(try load("etcd", "name: etcd\nkind: debian\npackages: [etcd-server]\ndisabled-units: [a.service, a.service]\n"),
                             at: "recipes/etcd.yaml:4:29", "'a.service' is listed twice in 'disabled-units'")
        XCTAssertConfigError(try load("tool", "name: tool\nkind: files\nversion: '1'\ndisabled-units: [a.service]\n"),
                             at: "recipes/tool.yaml:4:1", "key 'disabled-units' is not allowed in recipe",
                             "only the units of Debian packages")
    }

    func testNameMustEqualTheFileName() {
        XCTAssertConfigError(try load("etcd", "name: etcd2\nkind: debian\npackages: [etcd]\n"),
                             at: "recipes/etcd.yaml:1:7", "name 'etcd2' differs from the file name 'etcd'")
    }

    func testNameMustBeLowercase() {
        XCTAssertConfigError(try load("Etcd", "name: Etcd\nkind: debian\npackages: [etcd]\n"),
                             at: "recipes/Etcd.yaml:1:7", "'Etcd' is not a valid name", "lowercase letters")
    }

    func testDebianPackagesCarryNoVersionAndAreNotEmpty() {
        XCTAssertConfigError(try load("ssh", "name: ssh\nkind: debian\npackages: [openssh-server=1:9.2p1-2]\n"),
                             at: "recipes/ssh.yaml:3:12", "carries a version", "lock file")
        XCTAssertConfigError(try load("ssh", "name: ssh\nkind: debian\npackages: [Openssh]\n"),
                             at: "recipes/ssh.yaml:3:12", "'Openssh' is not a Debian package name")
        XCTAssertConfigError(try load("ssh", "name: ssh\nkind: debian\npackages: []\n"),
                             at: "recipes/ssh.yaml:3:11", "'packages' must list at least one entry")
    }

    func testDependingTwiceOnTheSameRecipeIsRefused() {
        XCTAssertConfigError(try load("ssh", "name: ssh\nkind: debian\npackages: [ssh]\ndepends: [a, b, a]\n"),
                             at: "recipes/ssh.yaml:4:17", "'a' is listed twice in 'depends'", "first at line 4")
    }

    // MARK: Files a recipe names

    func testSourcesThatDoNotExistAreRefused() {
        XCTAssertConfigError(try load("tool", "name: tool\nversion: '1'\nkind: source\nsources: [src]\nbuild: make\n"),
                             at: "recipes/tool.yaml:4:11", "'src' does not exist in recipes/tool/")
    }

    func testPathsOutsideTheRecipeFolderAreRefused() throws {
        try fixture.write("recipes/other/secret", "x")
        try fixture.write("recipes/tool/inside", "x")
        let recipe = { (source: String) in
            "name: tool\nversion: '1'\nkind: source\nbuild: make\nsources: [\(source)]\n"
        }
        XCTAssertConfigError(try load("tool", recipe("/etc/passwd")), at: "recipes/tool.yaml:5:11",
                             "'/etc/passwd' is absolute", "relative to recipes/tool/")
        XCTAssertConfigError(try load("tool", recipe("../other/secret")), at: "recipes/tool.yaml:5:11",
                             "leaves recipes/tool/ with '..'")
        XCTAssertConfigError(try load("tool", recipe("inside/..")), at: "recipes/tool.yaml:5:11",
                             "names recipes/tool/ itself")
        XCTAssertEqual(try load("tool", recipe("./x/../inside")).sources, ["inside"])
        try FileManager.default.createSymbolicLink(atPath: fixture.root.appendingPathComponent("recipes/tool/link").path,
                                                   withDestinationPath: "../other/secret")
        XCTAssertConfigError(try load("tool", recipe("link")), at: "recipes/tool.yaml:5:11",
                             "symbolic link that leads out of recipes/tool/")
    }

    func testFilesEntriesNeedAnExistingFileAnAbsoluteNormalizedPathAndAnOctalMode() throws {
        try fixture.write("recipes/conf/a.conf", "x")
        try fixture.makeDirectory("recipes/conf/folder")
        let recipe = { (entry: String) in "name: conf\nversion: '1'\nkind: files\nfiles:\n  - \(entry)\n" }
        XCTAssertConfigError(try load("conf", recipe("{source: b.conf, path: /etc/b}")), at: "recipes/conf.yaml:5:14",
                             "'b.conf' does not exist in recipes/conf/")
        XCTAssertConfigError(try load("conf", recipe("{source: folder, path: /etc/b}")), at: "recipes/conf.yaml:5:14",
                             "'folder' is a folder")
        XCTAssertConfigError(try load("conf", recipe("{source: a.conf}")), at: "recipes/conf.yaml:5:5",
                             "missing required key 'path' in 'files' entry")
        for path in ["etc/a", "/etc//a", "/etc/a/", "/etc/../a", "/"] {
            XCTAssertConfigError(try load("conf", recipe("{source: a.conf, path: '\(path)'}")), at: "recipes/conf.yaml:5:28",
                                 "'\(path)' must be an absolute, normalized path")
        }
        XCTAssertConfigError(try load("conf", recipe("{source: a.conf, path: /etc/a, mode: '0888'}")),
                             at: "recipes/conf.yaml:5:42", "mode '0888' must be octal digits")
        XCTAssertConfigError(try load("conf", recipe("{source: a.conf, path: /etc/a, mode: '17777'}")),
                             at: "recipes/conf.yaml:5:42", "mode '17777' is larger than 07777")
        XCTAssertEqual(try load("conf", recipe("{source: a.conf, path: /etc/a, mode: '04755'}")).files.first?.mode, 0o4755)
    }

    func testLoadingARecipeWithoutAFileListsTheKnownOnes() throws {
        try fixture.writeDebianRecipe("systemd")
        XCTAssertConfigError(try fixture.repository.loadRecipe(named: "etcd"), at: nil, "no recipe 'etcd' (known: systemd)")
        XCTAssertConfigError(try fixture.repository.loadRecipe(named: "../boards/x"), at: nil, "no recipe '../boards/x'")
    }

    func testRecipeNamesAreTheYAMLFilesSorted() throws {
        try fixture.writeDebianRecipe("b")
        try fixture.writeDebianRecipe("a")
        try fixture.write("recipes/a/files/x", "")
        try fixture.write("recipes/README.md", "")
        XCTAssertEqual(fixture.repository.recipeNames(), ["a", "b"])
    }
}
