import Boot
import Disk
import Filesystems
import Foundation
import Recipes
import Rootfs
import Support

/// Facts about a filesystems cache entry that later stages and the report need.
public struct FilesystemManifest: Codable, Sendable {
    public static let fileName = "manifest.json"

    public var kernelVersion: String
    public var kernelCommandLine: String
    public var initramfsModules: [String]
    public var verity: BuildReport.Verity
    public var usr: BuildReport.UsrFilesystem
    public var debianPackages: [InstalledPackage]
    /// Partition number → filesystem image file name inside the cache entry.
    public var partitionImages: [String: String]

    public static func load(from entry: URL) throws -> FilesystemManifest {
        try JSONDecoder().decode(FilesystemManifest.self,
                                 from: Data(contentsOf: entry.appendingPathComponent(fileName)))
    }
}

/// One filesystems stage as a value, so a rootless build can run it in a child process that is
/// root of a user namespace (`coresdk build filesystems-job FILE`); as root it runs in-process on
/// the plan's own board and recipes.
public struct FilesystemJob: Codable, Sendable {
    public var repository: String
    public var board: String
    public var version: String
    public var epoch: Int
    public var seed: String
    public var debianTarball: String
    public var components: [String]
    public var entry: String
    public var quiet: Bool

    static let fileName = "filesystems-job.json"

    /// Runs the job here when root, else in a user namespace through the running coresdk.
    func run(_ plan: ImagePlan, in namespace: UserNamespace?, scratch cache: BuildCache, progress: ProgressReporter) throws {
        guard let namespace else {
            return try assemble(board: plan.board, recipes: plan.recipes, partitions: plan.partitions, progress: progress)
        }
        let directory = try cache.makeScratchDirectory(for: "job")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(Self.fileName)
        try JSONEncoder().encode(self).write(to: file)
        do {
            try namespace.run([CodeIdentity.executable.path, "build", "filesystems-job", file.path])
        } catch let failure as CommandFailure {
            throw SupportError("assembling the filesystems as root of a user namespace failed (exit status \(failure.status))")
        }
    }

    /// Loads the job a parent wrote, reads its board again, and assembles it (the child's side).
    public static func assemble(jobFile: URL) throws {
        let job = try JSONDecoder().decode(FilesystemJob.self, from: Data(contentsOf: jobFile))
        let repository = RecipeRepository(root: URL(fileURLWithPath: job.repository))
        let board = try repository.loadBoard(named: job.board)
        try job.assemble(board: board, recipes: try repository.plan(board: board),
                         partitions: try DiskPlanner.partitionSpecs(for: board),
                         progress: ProgressReporter(totalSteps: 0, quiet: job.quiet))
    }

    private func assemble(board: Board, recipes: BuildPlan, partitions: [DiskPlanner.Partition],
                          progress: ProgressReporter) throws {
        let assembler = FilesystemAssembler(board: board, plan: recipes, partitions: partitions,
                                            version: version, clock: BuildClock(epoch: epoch), seed: seed)
        try assembler.assemble(debianTarball: URL(fileURLWithPath: debianTarball),
                               components: components.map { URL(fileURLWithPath: $0) },
                               into: URL(fileURLWithPath: entry), progress: progress)
    }
}

/// Assembles the rootfs from the Debian tarball, components and overlays, then makes every
/// partition's filesystem image. Two independent halves (/usr + verity, and ESP/ROOT/OEM) run
/// in parallel on the two cores.
struct FilesystemAssembler {
    /// The /usr partition image (filesystem + verity, sized to the partition) in the cache entry.
    static let usrImageName = "usr.img"
    let board: Board
    let plan: BuildPlan
    let partitions: [DiskPlanner.Partition]
    let version: String
    let clock: BuildClock
    /// The stage's input key: seeds filesystem UUIDs, the verity salt and the ESP's volume ID.
    let seed: String

    func assemble(debianTarball: URL, components: [URL], into entry: URL,
                  progress: ProgressReporter) throws {
        let stage = entry.appendingPathComponent("stage")
        defer { try? FileManager.default.removeItem(at: stage) }
        let tree = RootfsTree(root: stage.appendingPathComponent("rootfs"))
        try FileManager.default.createDirectory(at: tree.root, withIntermediateDirectories: true)

        try tree.extract(tarball: debianTarball, clampTo: clock.epoch)
        let packages = try DebianPackageDatabase.installedPackages(
            statusFile: tree.path("var/lib/dpkg/status"))
        for component in components { try tree.install(tree: component) }
        try Self.disableUnits(of: plan.recipes, in: tree)
        for overlay in plan.overlays { try tree.apply(overlay: overlay) }
        try brand(tree)
        let boot = try prepareBoot(tree, entry: entry, progress: progress)
        try StatelessImage.makeMinimal(tree)
        try StatelessImage.keepFactoryEtc(tree)
        try tree.clampTimestamps(to: clock.epoch)

        let usrTree = stage.appendingPathComponent("usr"), rootTree = stage.appendingPathComponent("root")
        try StatelessImage.split(tree, usr: usrTree, root: rootTree)

        let (usrOutcome, dataImages) = try inParallel(
            { try makeUsr(from: usrTree, entry: entry, progress: progress) },
            { try makeDataFilesystems(root: rootTree, entry: entry, progress: progress) })
        let (verity, usr, usrImage) = usrOutcome
        var images = dataImages
        for partition in partitions where partition.usrSlot == .a {
            images[String(partition.spec.number)] = usrImage
        }
        // The ESP comes last: slot A's command line carries /usr's root hash.
        let cmdline = BootPartition.commandLine(board: board.kernel.cmdline, usrRootHash: verity.rootHash)
        images.merge(try makeBootPartition(boot, commandLine: cmdline, entry: entry, progress: progress)) { $1 }

        let manifest = FilesystemManifest(kernelVersion: boot.kernelVersion, kernelCommandLine: cmdline,
                                          initramfsModules: boot.initramfsModules,
                                          verity: verity, usr: usr, debianPackages: packages,
                                          partitionImages: images)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: entry.appendingPathComponent(FilesystemManifest.fileName))
    }

    /// Turns off every recipe's `disabled-units`; a unit the image does not have is refused at the
    /// line that names it.
    static func disableUnits(of recipes: [Recipe], in tree: RootfsTree) throws {
        for recipe in recipes {
            for unit in recipe.disabledUnitEntries where !tree.hasUnit(unit.value) {
                throw ConfigError(location: unit.location,
                                  message: "disabled-units: no package of the image installed a unit \(unit.value)")
            }
        }
        try tree.disableUnits(recipes.flatMap(\.disabledUnits))
    }

    /// os-release and CoreOS's release files carry the build's version and board.
    private func brand(_ tree: RootfsTree) throws {
        try tree.write(ReleaseFiles.osRelease(id: board.os.id, name: board.os.name, version: version,
                                              board: board.name), to: "usr/lib/os-release")
        let etcOsRelease = tree.path("etc/os-release")
        try? FileManager.default.removeItem(at: etcOsRelease)
        try FileManager.default.createSymbolicLink(atPath: etcOsRelease.path,
                                                   withDestinationPath: "../usr/lib/os-release")
        let prefix = board.imagePrefix.uppercased()
        try tree.write("\(prefix)_RELEASE_VERSION=\(version)\n\(prefix)_RELEASE_BOARD=\(board.name)\n",
                       to: "usr/share/\(board.imagePrefix)/release")
    }

    /// What the ESP needs from the image, taken before the tree is made minimal and split.
    struct BootFiles {
        let kernel: URL, kernelVersion: String, initramfs: URL, initramfsModules: [String], bootloader: URL
    }

    /// Moves the kernel out of /boot, builds the initramfs from the image's own busybox, coreos-init
    /// and modules, and copies the bootloader; also makes /usr/share/oem, OEM's mount point.
    private func prepareBoot(_ tree: RootfsTree, entry: URL, progress: ProgressReporter) throws -> BootFiles {
        let kernel = entry.appendingPathComponent("vmlinuz")
        let kernelVersion = try StatelessImage.takeKernel(from: tree, to: kernel)
        let initramfs = entry.appendingPathComponent("initrd.img")
        let modules = try progress.detail("initramfs") {
            try Initramfs(rootfs: tree.root, kernelVersion: kernelVersion, modules: board.kernel.initramfsModules)
                .write(to: initramfs, clock: clock)
        }
        let bootloader = entry.appendingPathComponent("bootx64.efi")
        guard FileManager.default.fileExists(atPath: tree.path(BootPartition.bootloaderInImage).path) else {
            throw SupportError("the image has no /\(BootPartition.bootloaderInImage); add the coreos-boot recipe "
                               + "to 'recipes' in \(board.fileURL.lastPathComponent)")
        }
        try FileManager.default.copyItem(at: tree.path(BootPartition.bootloaderInImage), to: bootloader)
        try FileManager.default.createDirectory(at: tree.path("usr/share/oem"), withIntermediateDirectories: true)
        return BootFiles(kernel: kernel, kernelVersion: kernelVersion, initramfs: initramfs,
                         initramfsModules: modules, bootloader: bootloader)
    }

    private func makeUsr(from usrTree: URL, entry: URL, progress: ProgressReporter)
        throws -> (BuildReport.Verity, BuildReport.UsrFilesystem, String) {
        guard let slot = partitions.first(where: { $0.usrSlot == .a }) else {
            throw SupportError(file: board.fileURL.path, "the layout has no partition with 'filesystem: usr'")
        }
        let image = entry.appendingPathComponent(Self.usrImageName)
        let contentBytes = try RootfsTree(root: usrTree).apparentSize()
        let fsType = board.usr.filesystem
        let fsBytes: UInt64 = try progress.detail("mkfs \(fsType.rawValue) /usr") {
            switch fsType {
            case .squashfs:
                return try makeSquashfs(image: image, from: usrTree, clock: clock,
                                        compression: board.usr.chosenCompression)
            case .erofs:
                return try makeErofs(image: image, from: usrTree, clock: clock, uuid: stableUUID("\(seed)/usr"),
                                     compression: board.usr.chosenCompression)
            }
        }
        let verity = try progress.detail("dm-verity hash tree for /usr") {
            try Verity.format(image: image, dataBytes: fsBytes,
                              salt: String(Digests.sha256("\(seed)/verity-salt").prefix(64)),
                              uuid: stableUUID("\(seed)/verity"))
        }
        let available = slot.spec.sizeBytes
        let used = try fileSize(image)
        guard used <= available else {
            throw SupportError(partition: "partition \(slot.spec.number) (\(slot.spec.label))", "/usr needs \(used) bytes "
                               + "(filesystem and verity tree), \(available) available; raise its size in \(board.fileURL.lastPathComponent)")
        }
        // The update image is the whole partition, as update payloads describe it.
        guard truncate(image.path, off_t(available)) == 0 else {
            throw SupportError("cannot size \(image.path) to \(available) bytes")
        }
        let ratio = fsBytes == 0 ? 0 : (Double(contentBytes) / Double(fsBytes) * 100).rounded() / 100
        return (BuildReport.Verity(rootHash: verity.rootHash, salt: verity.salt, hashOffset: verity.hashOffset,
                                   dataBlocks: verity.dataBlocks),
                BuildReport.UsrFilesystem(type: fsType.rawValue, imageBytes: fsBytes, contentBytes: contentBytes,
                                          compressionRatio: ratio),
                image.lastPathComponent)
    }

    /// OEM and ROOT (and any other ext4 partition of the layout).
    private func makeDataFilesystems(root rootTree: URL, entry: URL,
                                     progress: ProgressReporter) throws -> [String: String] {
        var images: [String: String] = [:]
        for partition in partitions where partition.role == .ext4 {
            let spec = partition.spec
            let image = entry.appendingPathComponent("part\(spec.number).img")
            let populate = spec.label == "ROOT" ? rootTree : nil
            try progress.detail("mkfs ext4 \(spec.label)") {
                try makeExt4(image: image, sizeBytes: spec.sizeBytes, label: partition.filesystemLabel,
                             uuid: stableUUID("\(seed)/\(spec.label)"),
                             hashSeed: stableUUID("\(seed)/\(spec.label)/hash-seed"),
                             populateFrom: populate, clock: clock)
            }
            images[String(spec.number)] = image.lastPathComponent
        }
        return images
    }

    /// The FAT ESP: the bootloader and slot A's kernel, initramfs and command line.
    private func makeBootPartition(_ boot: BootFiles, commandLine: String, entry: URL,
                                   progress: ProgressReporter) throws -> [String: String] {
        var images: [String: String] = [:]
        for partition in partitions where partition.role == .vfat {
            let spec = partition.spec
            let image = entry.appendingPathComponent("part\(spec.number).img")
            let espTree = entry.appendingPathComponent("stage/esp")
            try BootPartition.stage(into: espTree, bootloader: boot.bootloader, kernel: boot.kernel,
                                    initramfs: boot.initramfs, commandLine: commandLine, slot: .a)
            try RootfsTree(root: espTree).clampTimestamps(to: clock.epoch)
            try progress.detail("mkfs vfat \(spec.label)") {
                try makeVfat(image: image, sizeBytes: spec.sizeBytes, label: partition.filesystemLabel,
                             volumeID: UInt32(truncatingIfNeeded: Int(Digests.sha256("\(seed)/esp").prefix(8), radix: 16)!),
                             populateFrom: espTree, clock: clock)
            }
            images[String(spec.number)] = image.lastPathComponent
        }
        return images
    }
}
