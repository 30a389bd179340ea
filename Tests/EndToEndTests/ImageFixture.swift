import Foundation

/// One cold build of the default board, shared by every end-to-end test class of the run, and
/// helpers that read and write its partitions with sfdisk and dd (no mount, no loop devices).
enum ImageFixture {
    struct Build {
        let workspace: URL
        let output: URL
        let cache: URL
        let directory: URL
        let report: [String: Any]
        let seconds: Double
    }

    static let board = "amd64-usr"
    static let version = "1.2.3"
    nonisolated(unsafe) static var shared: Result<Build, Error>?

    static func coldBuild() throws -> Build {
        if let shared { return try shared.get() }
        let result = Result { () throws -> Build in
            let workspace = try CoreSDKRunner.makeWorkspace("cold")
            let output = workspace.appendingPathComponent("out")
            let cache = workspace.appendingPathComponent("cache")
            let run = try CoreSDKRunner.coresdk(
                ["build", "image", "--board", board, "--version", version,
                 "--output", output.path, "--cache-dir", cache.path, "--json"], in: workspace)
            guard run.status == 0 else {
                throw NSError(domain: "e2e", code: 1, userInfo: [NSLocalizedDescriptionKey: "cold build failed: \(run.standardError)"])
            }
            let report = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as! [String: Any]
            return Build(workspace: workspace, output: output, cache: cache,
                         directory: output.appendingPathComponent("\(board)/\(version)"),
                         report: report, seconds: run.seconds)
        }
        shared = result
        return try result.get()
    }

    static func file(_ name: String) throws -> URL { try coldBuild().directory.appendingPathComponent(name) }

    /// A partition's gptprio bits as Debian's cgpt reads them (qcow2 images through a raw copy).
    static func gptprio(_ disk: URL, _ number: Int) throws -> (priority: Int, tries: Int, successful: Int) {
        var raw = disk
        if try CoreSDKRunner.run(["qemu-img", "info", "--output=json", disk.path]).standardOutput.contains("\"qcow2\"") {
            raw = disk.deletingPathExtension().appendingPathExtension("flat")
            try CoreSDKRunner.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk.path, raw.path])
        }
        defer { if raw != disk { try? FileManager.default.removeItem(at: raw) } }
        func field(_ flag: String) throws -> Int {
            Int(try CoreSDKRunner.run(["cgpt", "show", "-i", String(number), flag, raw.path]).standardOutput
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        return (try field("-P"), try field("-T"), try field("-S"))
    }

    /// Start and length (in 512-byte sectors) of a partition, as sfdisk reads the GPT.
    static func partition(_ number: Int, of disk: URL) throws -> (start: Int, sectors: Int) {
        let json = try CoreSDKRunner.run(["sfdisk", "--json", disk.path]).standardOutput
        let table = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any])["partitiontable"] as! [String: Any]
        // sfdisk names a partition of an image file by appending its number to the path it was given.
        guard let entry = (table["partitions"] as! [[String: Any]]).first(where: { $0["node"] as? String == "\(disk.path)\(number)" }) else {
            throw NSError(domain: "e2e", code: 2, userInfo: [NSLocalizedDescriptionKey: "\(disk.path) has no partition \(number)"])
        }
        return (entry["start"] as! Int, entry["size"] as! Int)
    }

    /// A sparse copy of one partition of `disk`.
    static func extractPartition(_ number: Int, from disk: URL) throws -> URL {
        let placement = try partition(number, of: disk)
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent("part\(number)-\(UUID().uuidString.prefix(6)).img")
        try CoreSDKRunner.run(["dd", "if=\(disk.path)", "of=\(destination.path)", "bs=512",
                               "skip=\(placement.start)", "count=\(placement.sectors)", "conv=sparse", "status=none"])
        return destination
    }

    /// Writes `image` over the start of partition `number` of `disk`.
    static func writePartition(_ number: Int, of disk: URL, from image: URL) throws {
        let placement = try partition(number, of: disk)
        try CoreSDKRunner.run(["dd", "if=\(image.path)", "of=\(disk.path)", "bs=512", "seek=\(placement.start)",
                               "conv=notrunc,sparse", "status=none"])
    }
}
