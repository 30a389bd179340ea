import Foundation
import XCTest
import Recipes
import Rootfs
import Support
import TestSupport
@testable import Build

final class PackageLockTests: XCTestCase {
    func testLockRoundTripsAndReportsDrift() throws {
        let scratch = try Scratch()
        let lock = PackageLock(packages: [
            InstalledPackage(name: "systemd", version: "252.39-1~deb12u1", architecture: "amd64"),
            InstalledPackage(name: "bash", version: "5.2.15-2+b13", architecture: "amd64"),
        ])
        try scratch.write("boards/amd64-usr.lock", lock.serialized)
        let loaded = try PackageLock.load(scratch.path("boards/amd64-usr.lock"))
        XCTAssertEqual(loaded.packages.map(\.name), ["bash", "systemd"])
        XCTAssertEqual(loaded.version(of: "systemd"), "252.39-1~deb12u1")
        let drift = loaded.drift(from: [InstalledPackage(name: "bash", version: "5.2.15-2+b14", architecture: "amd64")])
        XCTAssertEqual(drift.map(\.name), ["bash"])
        XCTAssertEqual(drift.first?.installed, "5.2.15-2+b14")
    }

    func testMissingLockIsEmptyAndAMalformedLineIsReportedWithItsLine() throws {
        let scratch = try Scratch()
        XCTAssertEqual(try PackageLock.load(scratch.path("none.lock")).packages, [])
        try scratch.write("bad.lock", "# comment\nbash=5.2\nsystemd\n")
        XCTAssertThrowsError(try PackageLock.load(scratch.path("bad.lock"))) { error in
            XCTAssertEqual("\(error)", "bad.lock:3: expected 'package=version', got 'systemd'")
        }
    }
}

final class ReleaseFilesTests: XCTestCase {
    func testVersionTxtSplitsTheVersionTheCoreOSWay() throws {
        let text = try ReleaseFiles.versionText(prefix: "coreos", version: "1.2.3", board: "amd64-usr", sdkVersion: "0.1.0")
        let values = Dictionary(uniqueKeysWithValues: text.split(separator: "\n").map { line in
            let parts = line.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), String(parts[1]))
        })
        XCTAssertEqual(values["COREOS_BUILD"], "1")
        XCTAssertEqual(values["COREOS_BRANCH"], "2")
        XCTAssertEqual(values["COREOS_PATCH"], "3")
        XCTAssertEqual(values["COREOS_VERSION"], "1.2.3")
        XCTAssertEqual(values["COREOS_BOARD"], "amd64-usr")
        XCTAssertEqual(values["COREOS_SDK_VERSION"], "0.1.0")
    }

    func testMalformedVersionIsRejected() {
        XCTAssertThrowsError(try ReleaseFiles.versionText(prefix: "coreos", version: "1.2", board: "b", sdkVersion: "0")) {
            XCTAssertEqual("\($0)", "version '1.2' is not of the form MAJOR.MINOR.PATCH (e.g. 1.2.0)")
        }
    }

    func testDigestsFileIsCheckableBySha256sumAndSha512sum() throws {
        let scratch = try Scratch()
        try scratch.write("image.bin", "disk bytes")
        let (sha256, sha512) = try Digests.sha256And512(file: scratch.path("image.bin"))
        let text = ReleaseFiles.digestsText(fileName: "image.bin", sha256: sha256, sha512: sha512)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        try scratch.write("sums256", String(lines[0]) + "\n")
        try scratch.write("sums512", String(lines[1]) + "\n")
        try Command.run(["sha256sum", "--check", "--strict", "sums256"], workingDirectory: scratch.root)
        try Command.run(["sha512sum", "--check", "--strict", "sums512"], workingDirectory: scratch.root)
        try scratch.write("image.bin", "changed")
        XCTAssertThrowsError(try Command.run(["sha256sum", "--check", "sums256"], workingDirectory: scratch.root))
    }

    func testOsReleaseCarriesIdAndVersion() {
        let text = ReleaseFiles.osRelease(id: "coreos", name: "CoreOS", version: "1.2.3", board: "amd64-usr")
        XCTAssertTrue(text.contains("\nID=coreos\n"))
        XCTAssertTrue(text.contains("\nVERSION_ID=1.2.3\n"))
    }
}

final class BuildCacheTests: XCTestCase {
    func testAFailedProducerLeavesNoEntryAndNoScratch() throws {
        let scratch = try Scratch()
        let cache = BuildCache(root: scratch.path("cache"))
        XCTAssertThrowsError(try cache.fetch(stage: "disk", key: "k1") { directory in
            try Data("partial".utf8).write(to: directory.appendingPathComponent("disk.bin"))
            throw SupportError("killed")
        })
        XCTAssertNil(cache.lookup(stage: "disk", key: "k1"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path("cache/tmp").path), [])
    }

    func testAnEntryIsProducedOnceThenHit() throws {
        let scratch = try Scratch()
        let cache = BuildCache(root: scratch.path("cache"))
        var runs = 0
        for _ in 0..<2 {
            _ = try cache.fetch(stage: "disk", key: "k1") { directory in
                runs += 1
                try Data("whole".utf8).write(to: directory.appendingPathComponent("disk.bin"))
            }
        }
        let (url, cached) = try cache.fetch(stage: "disk", key: "k1") { _ in XCTFail("must be a hit") }
        XCTAssertTrue(cached)
        XCTAssertEqual(runs, 1)
        XCTAssertEqual(try String(contentsOf: url.appendingPathComponent("disk.bin"), encoding: .utf8), "whole")
    }

    func testScratchOfDeadBuildsIsRemovedButNotThatOfLiveOnes() throws {
        let scratch = try Scratch()
        let cache = BuildCache(root: scratch.path("cache"))
        let mine = try cache.makeScratchDirectory(for: "filesystems")
        // A pid above the kernel's pid_max never runs.
        let dead = scratch.path("cache/tmp/filesystems-4194999-abcdef12")
        try FileManager.default.createDirectory(at: dead, withIntermediateDirectories: true)
        cache.removeAbandonedScratch()
        XCTAssertTrue(FileManager.default.fileExists(atPath: mine.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead.path))
    }
}

final class ComponentBuilderTests: XCTestCase {
    func makeRecipe(in scratch: Scratch, script: String) throws -> Recipe {
        try scratch.write("repo/recipes/hello.yaml", """
            name: hello
            version: "2.0"
            kind: source
            sources: [src]
            build: |
            \(script.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            files:
              - { source: files/hello.conf, path: /usr/share/hello/hello.conf, mode: "0600" }
            """)
        try scratch.write("repo/recipes/hello/src/hello.c", "int main(void) { return 0; }\n")
        try scratch.write("repo/recipes/hello/files/hello.conf", "greeting=hi\n")
        return try RecipeRepository(root: scratch.path("repo")).loadRecipe(named: "hello")
    }

    func testSourceBuildInstallsIntoDestdirAndFilesAreAdded() throws {
        let scratch = try Scratch()
        let recipe = try makeRecipe(in: scratch, script: """
            cc -o hello "$SRCDIR/src/hello.c"
            install -D -m 0755 hello "$DESTDIR/usr/bin/hello"
            """)
        let builder = ComponentBuilder(recipe: recipe, architecture: "amd64")
        let destdir = scratch.path("destdir")
        try FileManager.default.createDirectory(at: scratch.path("work"), withIntermediateDirectories: true)
        try builder.build(into: destdir, scratch: scratch.path("work"), clock: BuildClock(epoch: 1_700_000_000))
        try Command.run([destdir.appendingPathComponent("usr/bin/hello").path])
        var info = stat()
        stat(destdir.appendingPathComponent("usr/share/hello/hello.conf").path, &info)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    func componentKey(_ recipe: Recipe, arch: String = "amd64", upstream: [StageKey] = [],
                      tools: [ToolIdentity] = [], code: String = "coresdk-1") throws -> StageKey {
        try StageKey.make("component", upstream: upstream, producers: tools, code: code) {
            try ComponentBuilder(recipe: recipe, architecture: arch).addInputs(to: &$0)
        }
    }

    func testInputKeyFollowsTheRecipeFolderArchitectureAndDependencies() throws {
        let scratch = try Scratch()
        let recipe = try makeRecipe(in: scratch, script: "true")
        let dependency = StageKey(input: "i1", cache: "c1")
        let key = try componentKey(recipe, upstream: [dependency])
        XCTAssertEqual(key, try componentKey(recipe, upstream: [dependency]))
        XCTAssertNotEqual(key.input, try componentKey(recipe, upstream: [StageKey(input: "i2", cache: "c1")]).input)
        XCTAssertNotEqual(key.input, try componentKey(recipe, arch: "arm64", upstream: [dependency]).input)
        try scratch.write("repo/recipes/hello/src/hello.c", "int main(void) { return 1; }\n")
        XCTAssertNotEqual(key, try componentKey(recipe, upstream: [dependency]))
    }

    /// `libraries: [gpt]`: editing the library, or its mode, rebuilds the recipe; the library lands in $SRCDIR/lib.
    func testALibraryIsPartOfTheRecipeKeyAndItsSources() throws {
        let scratch = try Scratch()
        try scratch.write("repo/recipes/lib/gpt/gpt.c", "int gpt(void) { return 0; }\n")
        try scratch.write("repo/recipes/tool/src/README", "the tool\n")
        try scratch.write("repo/recipes/tool.yaml", """
            name: tool
            version: "1"
            kind: source
            sources: [src]
            libraries: [gpt]
            build: |
              mkdir -p "$DESTDIR/usr/share/tool" && cp "$SRCDIR/lib/gpt/gpt.c" "$DESTDIR/usr/share/tool/"
            """)
        let recipe = try RecipeRepository(root: scratch.path("repo")).loadRecipe(named: "tool")
        let key = try componentKey(recipe)
        try scratch.write("repo/recipes/lib/gpt/gpt.c", "int gpt(void) { return 1; }\n")
        let edited = try componentKey(recipe)
        XCTAssertNotEqual(edited, key, "a changed library rebuilds its recipes")
        chmod(scratch.path("repo/recipes/lib/gpt/gpt.c").path, 0o755)
        XCTAssertNotEqual(try componentKey(recipe), edited, "so does a changed mode")
        try ComponentBuilder(recipe: recipe, architecture: "amd64")
            .build(into: scratch.path("destdir"), scratch: scratch.path("work"), clock: BuildClock(epoch: 1))
        XCTAssertEqual(try String(contentsOf: scratch.path("destdir/usr/share/tool/gpt.c"), encoding: .utf8),
                       "int gpt(void) { return 1; }\n")
    }

    func testCacheKeyFollowsTheCodeAndToolsButTheInputKeyDoesNot() throws {
        let scratch = try Scratch()
        let recipe = try makeRecipe(in: scratch, script: "true")
        let cc = ToolIdentity(name: "cc", path: "/usr/bin/cc", sha256: "aa", version: "gcc 12.2.0")
        let key = try componentKey(recipe, tools: [cc])
        let otherCode = try componentKey(recipe, tools: [cc], code: "coresdk-2")
        let rebuiltTool = try componentKey(recipe, tools: [ToolIdentity(name: "cc", path: "/usr/bin/cc", sha256: "bb", version: "gcc 12.2.0")])
        let upgradedTool = try componentKey(recipe, tools: [ToolIdentity(name: "cc", path: "/usr/bin/cc", sha256: "aa", version: "gcc 12.3.0")])
        for changed in [otherCode, rebuiltTool, upgradedTool] {
            XCTAssertNotEqual(changed.cache, key.cache, "a new producer must not reuse the old entry")
            XCTAssertEqual(changed.input, key.input, "UUIDs and salts seeded by the input key stay the same")
        }
        let upstreamRebuilt = try componentKey(recipe, upstream: [StageKey(input: "i", cache: "c2")], tools: [cc])
        XCTAssertNotEqual(upstreamRebuilt.cache, try componentKey(recipe, upstream: [StageKey(input: "i", cache: "c1")], tools: [cc]).cache)
    }

    func testToolIdentityReadsTheExecutableAndItsVersion() throws {
        let identity = try ToolIdentity.resolve("mke2fs")
        XCTAssertTrue(identity.version.hasPrefix("mke2fs 1."), identity.version)
        XCTAssertEqual(identity.sha256, try Digests.sha256(file: URL(fileURLWithPath: identity.path).resolvingSymlinksInPath()))
        XCTAssertThrowsError(try ToolIdentity.resolve("no-such-tool-coresdk")) { error in
            XCTAssertTrue("\(error)".contains("'no-such-tool-coresdk' is not installed"), "\(error)")
        }
    }

    func testDisabledUnitsMissingFromTheImageAreRefusedAtTheirLine() throws {
        let scratch = try Scratch()
        try scratch.write("repo/recipes/etcd.yaml", "name: etcd\nkind: debian\npackages: [etcd-server]\ndisabled-units:\n  - etcd.service\n  - etcd3.service\n")
        let recipe = try RecipeRepository(root: scratch.path("repo")).loadRecipe(named: "etcd")
        let tree = RootfsTree(root: scratch.path("rootfs"))
        try scratch.write("rootfs/usr/lib/systemd/system/etcd.service", "[Unit]\n")
        XCTAssertThrowsError(try FilesystemAssembler.disableUnits(of: [recipe], in: tree)) { error in
            XCTAssertEqual("\(error)", "recipes/etcd.yaml:6:5: disabled-units: no package of the image installed a unit etcd3.service")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tree.path(RootfsTree.disabledUnitsPreset).path),
                       "nothing is changed before every unit is found")
        try scratch.write("rootfs/usr/lib/systemd/system/etcd3.service", "[Unit]\n")
        try FilesystemAssembler.disableUnits(of: [recipe], in: tree)
        XCTAssertTrue(try String(contentsOf: tree.path(RootfsTree.disabledUnitsPreset), encoding: .utf8).contains("disable etcd3.service"))
    }

    func testAFailingBuildNamesTheRecipeFileAndShowsTheOutput() throws {
        let scratch = try Scratch()
        let recipe = try makeRecipe(in: scratch, script: "echo 'hello.c:1: syntax error' >&2\nexit 3")
        let builder = ComponentBuilder(recipe: recipe, architecture: "amd64")
        try FileManager.default.createDirectory(at: scratch.path("work"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try builder.build(into: scratch.path("destdir"), scratch: scratch.path("work"),
                                               clock: BuildClock(epoch: 0))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("recipes/hello.yaml: build of 'hello' failed: exit status 3"), message)
            XCTAssertTrue(message.contains("hello.c:1: syntax error"), message)
        }
    }
}

final class DiskPlannerTests: XCTestCase {
    /// The repository's default board with `edit` applied, loaded from a scratch repository.
    func board(_ edit: (String) -> String) throws -> Board {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("boards/amd64-usr.yaml"), encoding: .utf8)
        let scratch = try Scratch()
        try scratch.write("repo/boards/amd64-usr.yaml", edit(text))
        try scratch.write("repo/overlays/base/.keep", "")
        return try RecipeRepository(root: scratch.path("repo")).loadBoard(named: "amd64-usr")
    }

    func testUsrPartitionsAreTheTwoSlots() throws {
        let partitions = try DiskPlanner.partitionSpecs(for: try board { $0 })
        XCTAssertEqual(partitions.compactMap { partition in partition.usrSlot.map { "\($0.label)=\(partition.spec.number)" } },
                       ["USR-A=3", "USR-B=4"])
    }

    func testAUsrPartitionWithAnotherNameIsRefusedAtItsLabel() throws {
        let renamed = try board { $0.replacingOccurrences(of: "label: USR-B", with: "label: USR-C") }
        XCTAssertThrowsError(try DiskPlanner.partitionSpecs(for: renamed)) { error in
            XCTAssertTrue("\(error)".hasPrefix("boards/amd64-usr.yaml:"), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("a partition with 'filesystem: usr' is a /usr slot and must be labelled USR-A or USR-B, not 'USR-C'"), "\(error)")
        }
        let retyped = try board { $0.replacingOccurrences(of: "label: USR-B, type: coreos-usr", with: "label: USR-B, type: linux-data") }
        XCTAssertThrowsError(try DiskPlanner.partitionSpecs(for: retyped)) { error in
            XCTAssertTrue("\(error)".contains("USR-B must have type coreos-usr"), "\(error)")
        }
        let single = try board { $0.replacingOccurrences(of: "label: USR-B, type: coreos-usr, size: 1GiB, uuid: e03dd35c-7c2d-4a47-b3fe-27f15780a57c, filesystem: usr",
                                                          with: "label: USR-B, type: coreos-usr, size: 1GiB") }
        XCTAssertThrowsError(try DiskPlanner.partitionSpecs(for: single)) { error in
            XCTAssertTrue("\(error)".contains("the layout has no partition USR-B with 'filesystem: usr'"), "\(error)")
        }
    }
}
