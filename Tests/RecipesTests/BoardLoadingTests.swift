import Foundation
import XCTest
@testable import Recipes

final class BoardLoadingTests: RepositoryTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try fixture.makeDirectory("overlays/base")
    }

    private func load(_ text: String, named name: String = "amd64-usr") throws -> Board {
        try fixture.write("boards/\(name).yaml", text)
        return try fixture.repository.loadBoard(named: name)
    }

    /// Asserts that the minimal board plus `line` (its line 8) fails at `column` of that line.
    private func assertBoard(withLine line: String, failsAtColumn column: Int, _ message: String,
                             file: StaticString = #filePath, sourceLine: UInt = #line) throws {
        try fixture.writeBoard(extra: line)
        XCTAssertConfigError(try fixture.repository.loadBoard(named: "amd64-usr"), at: "boards/amd64-usr.yaml:8:\(column)",
                             message, file: file, line: sourceLine)
    }

    /// The minimal board with `partitions` as its partition list (lines 7 and on).
    private func board(partitions: String) -> String {
        """
        name: amd64-usr
        arch: amd64
        recipes: [linux-kernel]
        kernel: {recipe: linux-kernel}
        layout:
          partitions:
        \(partitions)
        """
    }

    func testFullBoardLoadsEveryValue() throws {
        let board = try load("""
            name: amd64-usr
            arch: amd64
            image-prefix: flatcar
            os:
              id: flatcar
              name: Flatcar Container Linux
            recipes:
              - linux-kernel
              - systemd
            overlays: [base]
            kernel:
              recipe: linux-kernel
              cmdline: "console=ttyS0,115200n8"
            usr: {filesystem: squashfs, compression: zstd}
            outputs: [qcow2]
            layout:
              alignment: 1MiB
              disk-alignment-sectors: 2048
              partitions:
                - {number: 1, label: EFI-SYSTEM, type: efi, size: 128MiB, filesystem: vfat}
                - number: 3
                  label: USR-A
                  type: 5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6
                  size: 1GiB
                  uuid: 7130c94a-213a-4e5a-8e26-6cce9662f132
                  filesystem: usr
                  priority: 1
                  tries: 0
                  successful: true
                - {number: 9, label: ROOT, type: my-own-alias, size: 4096}
            """)
        XCTAssertEqual(board.name, "amd64-usr")
        XCTAssertEqual(board.arch, .amd64)
        XCTAssertEqual(board.imagePrefix, "flatcar")
        XCTAssertEqual(board.os.id, "flatcar")
        XCTAssertEqual(board.os.name, "Flatcar Container Linux")
        XCTAssertEqual(board.recipes, ["linux-kernel", "systemd"])
        XCTAssertEqual(board.recipeEntries.map(\.location.description), ["boards/amd64-usr.yaml:8:5", "boards/amd64-usr.yaml:9:5"])
        XCTAssertEqual(board.overlays, ["base"])
        XCTAssertEqual(board.overlayEntries.first?.location.description, "boards/amd64-usr.yaml:10:12")
        XCTAssertEqual(board.kernel.recipe, "linux-kernel")
        XCTAssertEqual(board.kernel.cmdline, "console=ttyS0,115200n8")
        XCTAssertEqual(board.kernel.location(ofKey: "recipe")?.description, "boards/amd64-usr.yaml:12:11")
        XCTAssertEqual(board.usr.filesystem, .squashfs)
        XCTAssertEqual(board.usr.compression, "zstd")
        XCTAssertEqual(board.outputs, [.qcow2])
        XCTAssertEqual(board.layout.alignment, 1 << 20)
        XCTAssertEqual(board.layout.diskAlignmentSectors, 2048)

        let partitions = board.layout.partitions
        XCTAssertEqual(partitions.map(\.number), [1, 3, 9])
        XCTAssertEqual(partitions.map(\.label), ["EFI-SYSTEM", "USR-A", "ROOT"])
        XCTAssertEqual(partitions.map(\.type), ["efi", "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6", "my-own-alias"],
                       "types are kept as written, for the disk code to resolve")
        XCTAssertEqual(partitions.map(\.typeLocation.description),
                       ["boards/amd64-usr.yaml:20:44", "boards/amd64-usr.yaml:23:13", "boards/amd64-usr.yaml:30:38"])
        XCTAssertEqual(partitions.map(\.size), [128 << 20, 1 << 30, 4096])
        XCTAssertEqual(partitions.map(\.uuid), [nil, "7130c94a-213a-4e5a-8e26-6cce9662f132", nil])
        XCTAssertEqual(partitions.map(\.filesystem), [.vfat, .usr, .none])
        XCTAssertEqual(partitions.map(\.priority), [0, 1, 0])
        XCTAssertEqual(partitions.map(\.tries), [0, 0, 0])
        XCTAssertEqual(partitions.map(\.successful), [false, true, false])
    }

    func testMinimalBoardGetsTheDocumentedDefaults() throws {
        let text = board(partitions: "    - {number: 1, label: EFI-SYSTEM, type: efi, size: 128MiB}")
        let board = try load(text)
        XCTAssertEqual(board.imagePrefix, "coreos")
        XCTAssertEqual(board.os.id, "coreos")
        XCTAssertEqual(board.os.name, "CoreOS")
        XCTAssertEqual(board.overlays, [])
        XCTAssertEqual(board.kernel.cmdline, "")
        XCTAssertEqual(board.usr.filesystem, .squashfs)
        XCTAssertNil(board.usr.compression)
        XCTAssertEqual(board.outputs, [.raw, .qcow2])
        XCTAssertEqual(board.layout.alignment, 2 << 20)
        XCTAssertEqual(board.layout.diskAlignmentSectors, 258_048)
        XCTAssertEqual(board.layout.partitions.first?.filesystem, Board.PartitionFilesystem.none)
        XCTAssertEqual(board.text, text)
        XCTAssertEqual(board.fileURL.lastPathComponent, "amd64-usr.yaml")
        XCTAssertNil(board.location(ofKey: "usr"))
    }

    func testUnknownBoardListsTheKnownBoards() throws {
        try fixture.writeBoard()
        XCTAssertConfigError(try fixture.repository.loadBoard(named: "x"), at: nil, "no board 'x' (known: amd64-usr)")
        XCTAssertEqual(fixture.repository.boardNames(), ["amd64-usr"])
    }

    func testUnknownKeyInANestedMappingIsReportedThere() {
        XCTAssertConfigError(try load(board(partitions: "    - {number: 1, label: A, type: efi, size: 1MiB, bootable: true}")),
                             at: "boards/amd64-usr.yaml:7:52", "unknown key 'bootable' in partition",
                             "known keys: number, label, type, size, uuid, filesystem, priority, tries, successful")
    }

    func testOSVersionIDIsRefusedBecauseTheBuildSetsIt() throws {
        try assertBoard(withLine: "os: {name: CoreOS, version-id: '1'}", failsAtColumn: 20,
                        "key 'version-id' is not allowed in 'os': the version comes from the build")
    }

    func testMissingRequiredSectionsAreNamed() {
        XCTAssertConfigError(try load("name: amd64-usr\narch: amd64\nrecipes: [k]\nlayout: {partitions: [{number: 1, label: A, type: efi, size: 1MiB}]}\n"),
                             at: "boards/amd64-usr.yaml:1:1", "missing required key 'kernel' in board")
        XCTAssertConfigError(try load(board(partitions: "    - {number: 1, label: A, size: 1MiB}")),
                             at: "boards/amd64-usr.yaml:7:7", "missing required key 'type' in partition")
    }

    func testChoicesListWhatIsAllowed() throws {
        XCTAssertConfigError(try load("name: amd64-usr\narch: x86_64\n"), at: "boards/amd64-usr.yaml:2:7",
                             "expected one of amd64, arm64 for 'arch', got 'x86_64'")
        try assertBoard(withLine: "outputs: [raw, vmdk]", failsAtColumn: 16,
                        "expected one of raw, qcow2 for 'outputs', got 'vmdk'")
        try assertBoard(withLine: "usr: {filesystem: ext4}", failsAtColumn: 19,
                        "expected one of erofs, squashfs for 'filesystem', got 'ext4'")
    }

    func testArm64IsRefusedAtArchUntilTheBootChainSupportsIt() {
        XCTAssertConfigError(try load("name: amd64-usr\narch: arm64\n"), at: "boards/amd64-usr.yaml:2:7",
                             "arm64 is not supported yet: the bootloader (BOOTX64.EFI, built by the coreos-boot recipe), "
                             + "the firmware (OVMF) and the QEMU binary (qemu-system-x86_64) are amd64-only today; "
                             + "use 'arch: amd64'")
    }

    /// The minimal board with `usr` written as a block from its line 8: `compression` is line 10,
    /// its value at column 16.
    private func assertUsr(filesystem: String, compression: String, fails message: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        try fixture.writeBoard(extra: "usr:\n  filesystem: \(filesystem)\n  compression: \(compression)")
        XCTAssertConfigError(try fixture.repository.loadBoard(named: "amd64-usr"), at: "boards/amd64-usr.yaml:10:16",
                             message, file: file, line: line)
    }

    func testUnknownCompressorIsRefusedAtItsValueWithTheChoices() throws {
        try assertUsr(filesystem: "squashfs", compression: "brotli", fails:
                        "squashfs compression 'brotli' is not supported; use one of gzip[:1–9], lzo[:1–9], lz4, xz, zstd[:1–22]")
        try assertUsr(filesystem: "erofs", compression: "lz4hc-max", fails:
                        "erofs compression 'lz4hc-max' is not supported; use one of lz4hc, lz4, none")
    }

    func testCompressionLevelsMustBeTheCompressorsOwn() throws {
        for (compression, message) in [("\"zstd:23\"", "squashfs compression 'zstd:23' is not supported: zstd takes levels 1–22"),
                                       ("\"gzip:0\"", "squashfs compression 'gzip:0' is not supported: gzip takes levels 1–9"),
                                       ("\"zstd:fast\"", "squashfs compression 'zstd:fast' is not supported: zstd takes levels 1–22"),
                                       ("\"zstd:\"", "squashfs compression 'zstd:' is not supported: zstd takes levels 1–22"),
                                       ("\"xz:6\"", "squashfs compression 'xz:6' is not supported: xz takes no level"),
                                       ("\"lz4:9\"", "squashfs compression 'lz4:9' is not supported: lz4 takes no level")] {
            try assertUsr(filesystem: "squashfs", compression: compression, fails: message)
        }
        try assertUsr(filesystem: "erofs", compression: "\"lz4hc:9\"", fails:
                        "erofs compression 'lz4hc:9' is not supported: lz4hc takes no level")
    }

    func testCompressorOfTheOtherFilesystemIsRefusedWithAHint() throws {
        try assertUsr(filesystem: "erofs", compression: "zstd", fails:
                        "erofs compression 'zstd' is not supported; use one of lz4hc, lz4, none (zstd needs 'filesystem: squashfs')")
        // squashfs is the default, so an erofs compressor alone is refused too.
        try assertBoard(withLine: "usr: {compression: lz4hc}", failsAtColumn: 20,
                        "squashfs compression 'lz4hc' is not supported; use one of gzip[:1–9], lzo[:1–9], lz4, xz, zstd[:1–22] "
                        + "(lz4hc needs 'filesystem: erofs')")
        // The filesystem is read first wherever it is written.
        try assertBoard(withLine: "usr: {compression: zstd, filesystem: erofs}", failsAtColumn: 20,
                        "erofs compression 'zstd' is not supported")
    }

    func testEveryListedCompressionLoads() throws {
        for (filesystem, compression) in [("squashfs", "gzip"), ("squashfs", "\"gzip:1\""), ("squashfs", "\"lzo:9\""),
                                          ("squashfs", "lz4"), ("squashfs", "xz"), ("squashfs", "\"zstd:22\""),
                                          ("erofs", "lz4hc"), ("erofs", "lz4"), ("erofs", "none")] {
            try fixture.writeBoard(extra: "usr: {filesystem: \(filesystem), compression: \(compression)}")
            let board = try fixture.repository.loadBoard(named: "amd64-usr")
            XCTAssertEqual(board.usr.filesystem.rawValue, filesystem)
            XCTAssertEqual(board.usr.compression, compression.replacingOccurrences(of: "\"", with: ""))
            XCTAssertEqual(board.usr.location(ofKey: "compression")?.description, "boards/amd64-usr.yaml:8:\(34 + filesystem.count)")
        }
    }

    /// The repository's own default board, copied into the fixture (its overlay `base` is there).
    func testDefaultBoardLoadsWithItsSquashfsZstdLevel() throws {
        let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("boards/amd64-usr.yaml"), encoding: .utf8)
        let board = try load(text)
        XCTAssertEqual(board.arch, .amd64)
        XCTAssertEqual(board.usr.filesystem, .squashfs)
        XCTAssertEqual(board.usr.compression, "zstd:9")
    }

    func testPartitionValuesAreCheckedWhereTheyAreWritten() {
        let cases: [(String, String, String)] = [
            ("number: 0", "7:16", "expected an integer from 1 to 128 for 'number', got '0'"),
            ("number: 129", "7:16", "expected an integer from 1 to 128"),
            ("number: one", "7:16", "got 'one'"),
            ("number: 1, priority: 16", "7:29", "expected an integer from 0 to 15 for 'priority', got '16'"),
            ("number: 1, tries: -1", "7:26", "expected an integer from 0 to 15 for 'tries', got '-1'"),
            ("number: 1, successful: maybe", "7:31", "expected true or false for 'successful', got 'maybe'"),
            ("number: 1, uuid: not-a-guid", "7:25", "'not-a-guid' is not a GUID"),
            ("number: 1, uuid: 00000000-0000-0000-0000-000000000000", "7:25", "all-zero GUID"),
            ("number: 1, filesystem: xfs", "7:31", "expected one of vfat, ext4, usr, none for 'filesystem', got 'xfs'"),
        ]
        for (fields, location, message) in cases {
            XCTAssertConfigError(try load(board(partitions: "    - {\(fields), label: A, type: efi, size: 1MiB}")),
                                 at: "boards/amd64-usr.yaml:\(location)", message)
        }
        let longLabel = String(repeating: "L", count: 37)
        XCTAssertConfigError(try load(board(partitions: "    - {label: \(longLabel), number: 1, type: efi, size: 1MiB}")),
                             at: "boards/amd64-usr.yaml:7:15", "must have 1 to 36 characters", "it has 37")
    }

    func testBadSizesAreReportedAtTheValueWithTheAllowedUnits() {
        XCTAssertConfigError(try load(board(partitions: "    - {number: 1, label: A, type: efi, size: 1.5GiB}")),
                             at: "boards/amd64-usr.yaml:7:46", "'1.5GiB' is not a size", "KiB, MiB, GiB, TiB")
        XCTAssertConfigError(try load(board(partitions: "    - {number: 1, label: A, type: efi, size: 10MB}")),
                             at: "boards/amd64-usr.yaml:7:46", "unknown unit 'MB' in size '10MB'", "KiB, MiB, GiB, TiB")
    }

    func testDuplicatePartitionNumbersAndLabelsAreReportedAtTheSecond() {
        XCTAssertConfigError(try load(board(partitions: """
                - {number: 1, label: A, type: efi, size: 1MiB}
                - {number: 2, label: B, type: efi, size: 1MiB}
                - {number: 1, label: C, type: efi, size: 1MiB}
            """)), at: "boards/amd64-usr.yaml:9:16", "partition number 1 is used twice", "first at line 7")
        XCTAssertConfigError(try load(board(partitions: """
                - {number: 1, label: A, type: efi, size: 1MiB}
                - {number: 2, label: A, type: efi, size: 1MiB}
            """)), at: "boards/amd64-usr.yaml:8:26", "partition label 'A' is used twice", "first at line 7")
    }

    func testOverlaysMustBeDirectoriesUnderOverlays() throws {
        try fixture.write("overlays/notes.txt", "x")
        for (overlay, message) in [("missing", "overlay 'missing' is not a directory under overlays/ (known: base)"),
                                   ("notes.txt", "overlay 'notes.txt' is not a directory under overlays/"),
                                   ("../boards", "'../boards' leaves overlays/"),
                                   ("/etc", "'/etc' is absolute")] {
            try assertBoard(withLine: "overlays: [\(overlay)]", failsAtColumn: 12, message)
        }
    }

    func testImagePrefixAndOSIdentityMustBeSafeInFileNamesAndOSRelease() throws {
        try assertBoard(withLine: "image-prefix: Core-OS", failsAtColumn: 15,
                        "'Core-OS' is not a valid image prefix")
        try assertBoard(withLine: "os: {name: 'Core\"OS'}", failsAtColumn: 12,
                        "must be a non-empty line without")
    }
}
