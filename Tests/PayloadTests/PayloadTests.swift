import Crypto
import Foundation
@testable import Payload
@testable import PayloadGeneration
import Support
import Testing

/// A scratch directory with a small /usr image (random, zero and compressible 1 MiB chunks plus a
/// short tail), boot files and keys.
struct PayloadFixture {
    let directory: URL
    let partition: URL
    let kernel: [UInt8]
    let privateKey: URL, publicKey: URL, secondPrivateKey: URL, secondPublicKey: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        partition = directory.appendingPathComponent("usr.img")
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? random.close() }
        var bytes = [UInt8](try random.read(upToCount: 1 << 20) ?? Data())          // incompressible: REPLACE
        bytes += [UInt8](repeating: 0, count: 1 << 20)                               // zeros: REPLACE_BZ
        bytes += (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 / 7) }          // compressible
        bytes += [UInt8](try random.read(upToCount: 3 * 4096) ?? Data())           // a short last chunk
        try Data(bytes).write(to: partition)
        kernel = [UInt8](try random.read(upToCount: 1_500_001) ?? Data())           // not block-aligned
        (privateKey, publicKey) = (directory.appendingPathComponent("key.pem"), directory.appendingPathComponent("key.pub.pem"))
        (secondPrivateKey, secondPublicKey) = (directory.appendingPathComponent("key2.pem"), directory.appendingPathComponent("key2.pub.pem"))
        try PayloadPrivateKey.generate(privateKey: privateKey, publicKey: publicKey)
        try PayloadPrivateKey.generate(privateKey: secondPrivateKey, publicKey: secondPublicKey)
    }

    var bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])] {
        [(.kernel, kernel), (.commandLine, Array("root=LABEL=ROOT verity.usrhash=abc\n".utf8)),
         (.osRelease, Array("ID=coreos\nVERSION_ID=1.2.4\n".utf8))]
    }

    func generate(_ name: String, keys: [URL]? = nil, signatureCount: Int = 1) throws -> URL {
        let output = directory.appendingPathComponent(name)
        let signers = try (keys ?? [privateKey]).map { try PayloadPrivateKey(contentsOf: $0) }
        _ = try PayloadGenerator(partitionImage: partition, bootFiles: bootFiles, signatureCount: signers.isEmpty ? signatureCount : signers.count)
            .write(to: output, signingKeys: signers)
        return output
    }

    func key(_ url: URL) throws -> PayloadPublicKey { try PayloadPublicKey(contentsOf: url) }

    func damaged(_ payload: URL, at offset: Int, name: String) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: payload))
        bytes[offset] ^= 0xFF
        let copy = directory.appendingPathComponent(name)
        try Data(bytes).write(to: copy)
        return copy
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite(.serialized) struct PayloadTests {
    @Test func generatedPayloadHasTheLayoutClientsRead() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("update.gz")
        let file = try PayloadFile(url)
        let manifest = file.manifest
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Array(bytes[0..<4]) == Array("CrAU".utf8))
        #expect(bytes[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 1)
        // 1 MiB chunks: REPLACE where bzip2 does not shrink (random data), REPLACE_BZ elsewhere.
        #expect(manifest.partitionOperations.map(\.type) == [.replace, .replaceBZ, .replaceBZ, .replace])
        #expect(manifest.partitionOperations.map { $0.dstExtents } == [
            [Extent(startBlock: 0, numBlocks: 256)], [Extent(startBlock: 256, numBlocks: 256)],
            [Extent(startBlock: 512, numBlocks: 256)], [Extent(startBlock: 768, numBlocks: 3)],
        ])
        #expect(manifest.newPartitionInfo?.size == 3 * (1 << 20) + 3 * 4096)
        #expect(manifest.newPartitionInfo?.hash == Array(SHA256.hash(data: try Data(contentsOf: fixture.partition))))
        #expect(manifest.procedures.map(\.type) == [.kernel, .commandLine, .osRelease])
        #expect(manifest.procedures[0].newInfo?.size == 1_500_001)
        // Noop copies of every procedure operation, then the signature operation, all into holes.
        let procedureOperations = manifest.procedures.flatMap(\.operations)
        #expect(manifest.noopOperations.count == procedureOperations.count + 1)
        #expect(manifest.noopOperations.allSatisfy { $0.type == .replace && $0.dstExtents.first?.startBlock == UInt64.max })
        let signatureOperation = try #require(manifest.noopOperations.last)
        #expect(UInt64(signatureOperation.dataOffset ?? 0) == manifest.signaturesOffset)
        #expect(UInt64(signatureOperation.dataLength ?? 0) == manifest.signaturesSize)
        #expect(manifest.signaturesSize == 264)
        #expect(signatureOperation.dataSHA256 == nil)
        // Every blob in reading order, no gaps, each with its hash; the signatures are last.
        var running: UInt32 = 0
        for operation in manifest.partitionOperations + procedureOperations {
            #expect(operation.dataOffset == running)
            let blob = try file.blob(offset: UInt64(running), length: Int(operation.dataLength!))
            #expect(Array(SHA256.hash(data: blob)) == operation.dataSHA256)
            running += operation.dataLength!
        }
        #expect(UInt64(running) == manifest.signaturesOffset)
        #expect(file.fileSize == file.blobStart + UInt64(running) + 264)
        let signatures = try Signatures(decoding: try file.blob(offset: UInt64(running), length: 264)[...])
        #expect(signatures.signatures.map(\.version) == [2])
        #expect(try PayloadVerifier(url).verify(publicKeys: [try fixture.key(fixture.publicKey)]).operations == 4 + procedureOperations.count)
    }

    @Test func identicalInputsGiveIdenticalPayloads() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        #expect(try Data(contentsOf: fixture.generate("a.gz")) == Data(contentsOf: fixture.generate("b.gz")))
    }

    @Test func damagedTruncatedAndWronglySignedPayloadsAreRejected() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("update.gz")
        let key = try fixture.key(fixture.publicKey)
        let file = try PayloadFile(url)
        func rejection(_ payload: URL, keys: [PayloadPublicKey]? = nil) -> String {
            do {
                try PayloadVerifier(payload).verify(publicKeys: keys ?? [key])
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(rejection(try fixture.damaged(url, at: Int(file.blobStart) + 100, name: "blob.gz")).contains("does not match its SHA-256"))
        #expect(rejection(try fixture.damaged(url, at: 1, name: "magic.gz")).contains("no CrAU header"))
        #expect(rejection(try fixture.damaged(url, at: Int(file.fileSize) - 10, name: "sig.gz")).contains("does not verify"))
        #expect(rejection(url, keys: [try fixture.key(fixture.secondPublicKey)]).contains("does not verify"), "wrong key")
        let truncated = fixture.directory.appendingPathComponent("short.gz")
        try Data(contentsOf: url).prefix(Int(file.fileSize) - 300).write(to: truncated)
        #expect(rejection(truncated).contains("truncated"))
        let appended = fixture.directory.appendingPathComponent("long.gz")
        try (Data(contentsOf: url) + Data([1, 2, 3])).write(to: appended)
        #expect(rejection(appended).contains("unexpected bytes"))
        // A manifest edit (here: the partition's hash) breaks the signature even with consistent blobs.
        #expect(rejection(try fixture.damaged(url, at: PayloadFormat.headerSize + file.manifestSize - 300, name: "manifest.gz")) != "accepted")
    }

    /// `core_sign_update`'s flow: an unsigned payload made for two signatures, its digest signed by
    /// openssl (as an HSM or signing server would), the signatures inserted, both keys verified.
    @Test func offlineSigningWithOpenSSL() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("update.gz", keys: [], signatureCount: 2)
        #expect(throws: PayloadError.self) { try PayloadVerifier(url).verify(publicKeys: [try fixture.key(fixture.publicKey)]) }
        let digest = Data(try PayloadVerifier(url).digestToSign())
        let digestFile = fixture.directory.appendingPathComponent("update.hash")
        try digest.write(to: digestFile)
        var signatureFiles: [URL] = []
        for (index, key) in [fixture.secondPrivateKey, fixture.privateKey].enumerated() {
            let signature = fixture.directory.appendingPathComponent("sig\(index)")
            try Command.run(["openssl", "pkeyutl", "-sign", "-inkey", key.path, "-pkeyopt", "digest:sha256",
                             "-in", digestFile.path, "-out", signature.path])
            signatureFiles.append(signature)
        }
        let signatures = try signatureFiles.map { [UInt8](try Data(contentsOf: $0)) }
        #expect(throws: PayloadError.self, "one signature for a payload made for two") {
            try PayloadVerifier.insertSignatures([signatures[0]], into: url)
        }
        try PayloadVerifier.insertSignatures(signatures, into: url, publicKeys: [try fixture.key(fixture.publicKey)])
        let report = try PayloadVerifier(url).verify(publicKeys: [try fixture.key(fixture.publicKey), try fixture.key(fixture.secondPublicKey)])
        #expect(report.signatures == 2)
        let file = try PayloadFile(url)
        let blob = try file.blob(offset: file.manifest.signaturesOffset!, length: Int(file.manifest.signaturesSize!))
        #expect(try Signatures(decoding: blob[...]).signatures.map(\.version) == [1, 2], "the last key's signature is version 2")
        #expect(throws: PayloadError.self, "clients check the version-2 signature: the first key signed version 1") {
            try PayloadVerifier(url).verify(publicKeys: [try fixture.key(fixture.secondPublicKey)])
        }
        // Inline signing with the same keys gives the same file: PKCS#1 v1.5 is deterministic.
        #expect(try Data(contentsOf: url) == Data(contentsOf: fixture.generate("inline.gz", keys: [fixture.secondPrivateKey, fixture.privateKey])))
    }

    @Test func signaturesVerifyWithOpenSSL() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("update.gz")
        let file = try PayloadFile(url)
        let signed = fixture.directory.appendingPathComponent("signed-part")
        try Data(contentsOf: url).prefix(Int(file.signedLength!)).write(to: signed)
        let signature = fixture.directory.appendingPathComponent("sig")
        let blob = try file.blob(offset: file.manifest.signaturesOffset!, length: Int(file.manifest.signaturesSize!))
        try Data(try Signatures(decoding: blob[...]).signatures[0].data).write(to: signature)
        let result = try Command.run(["openssl", "dgst", "-sha256", "-verify", fixture.publicKey.path, "-signature", signature.path, signed.path])
        #expect(result.text.contains("Verified OK"))
    }

    /// The manifest decoded by protoc with the .proto in proto/, not by coresdk's own code.
    @Test func protocDecodesTheManifestAndSignatures() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("update.gz")
        let file = try PayloadFile(url)
        let bytes = try Data(contentsOf: url)
        let manifest = fixture.directory.appendingPathComponent("manifest.bin")
        try bytes[PayloadFormat.headerSize..<(PayloadFormat.headerSize + file.manifestSize)].write(to: manifest)
        let proto = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("proto")
        func decode(_ message: String, _ input: URL) throws -> String {
            try Command.run(["sh", "-c", "protoc --proto_path=\"$1\" --decode=chromeos_update_engine.\(message) update_metadata.proto < \"$2\"",
                             "sh", proto.path, input.path]).text
        }
        let text = try decode("DeltaArchiveManifest", manifest)
        #expect(text.contains("block_size: 4096"))
        #expect(text.contains("signatures_offset: \(file.manifest.signaturesOffset!)"))
        #expect(text.contains("signatures_size: 264"))
        #expect(text.contains("new_partition_info {\n  size: \(3 * (1 << 20) + 3 * 4096)"))
        #expect(text.contains("type: KERNEL"))
        #expect(text.contains("type: REPLACE_BZ"))
        #expect(text.components(separatedBy: "start_block: 18446744073709551615").count - 1 == file.manifest.noopOperations.count)
        #expect(text.components(separatedBy: "partition_operations {").count - 1 == 4)
        #expect(text.components(separatedBy: "data_sha256_hash:").count - 1
                == 4 + file.manifest.procedures.flatMap(\.operations).count * 2, "partition and procedure operations, and their noop copies")
        let signatures = fixture.directory.appendingPathComponent("signatures.bin")
        try bytes.suffix(264).write(to: signatures)
        let signatureText = try decode("Signatures", signatures)
        #expect(signatureText.contains("version: 2"))
    }

    @Test func privateKeysReadableByOthersAreRefused() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        chmod(fixture.privateKey.path, 0o640)
        #expect(throws: PayloadError.self) { try PayloadPrivateKey(contentsOf: fixture.privateKey) }
        let info = try FileManager.default.attributesOfItem(atPath: fixture.secondPrivateKey.path)
        #expect((info[.posixPermissions] as? NSNumber)?.intValue == 0o600, "generated private keys are 0600")
        let small = fixture.directory.appendingPathComponent("small.pem")
        try Command.run(["openssl", "genrsa", "-out", small.path, "1024"])
        chmod(small.path, 0o600)
        #expect(throws: PayloadError.self, "only 2048-bit keys") { try PayloadPrivateKey(contentsOf: small) }
    }

    @Test func omahaResponseCarriesTheHashesUpdateEngineReads() throws {
        let fixture = try PayloadFixture()
        defer { fixture.remove() }
        let url = try fixture.generate("coreos_production_update.gz")
        let offer = try OmahaOffer(payload: url, codebase: "http://127.0.0.1:8080/updates", version: nil)
        #expect(offer.version == "1.2.4", "from the payload's os-release")
        #expect(offer.codebase == "http://127.0.0.1:8080/updates/")
        let sha256 = try Command.run(["sh", "-c", "openssl dgst -sha256 -binary \"$1\" | base64", "sh", url.path]).text
        #expect(offer.sha256Base64 == sha256.trimmingCharacters(in: .whitespacesAndNewlines))
        let sha1 = try Command.run(["sh", "-c", "openssl dgst -sha1 -binary \"$1\" | base64", "sh", url.path]).text
        #expect(offer.sha1Base64 == sha1.trimmingCharacters(in: .whitespacesAndNewlines))
        let xml = offer.responseXML
        #expect(xml.contains(#"<action event="postinstall" sha256="\#(offer.sha256Base64)""#))
        #expect(xml.contains(#"<package name="coreos_production_update.gz" hash="\#(offer.sha1Base64)" hash_sha256="\#(offer.sha256Hex)" size="\#(try Data(contentsOf: url).count)""#))
        #expect(xml.contains(#"<url codebase="http://127.0.0.1:8080/updates/">"#))
        #expect(xml.contains(#"<manifest version="1.2.4">"#))
    }
}
