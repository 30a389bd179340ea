import Crypto
import Foundation
@testable import Payload
@testable import PayloadGeneration
import Support
import Testing

/// Known answers published by update_engine and mantle, and the public test keys they were made with.
/// The numbers are theirs (each names its source); the code around them is ours.
enum ReferenceVectors {
    /// update_engine's signer test key ("openssl genrsa -out unittest_key.pem 2048"), as published in
    /// coreos/coreos-overlay:unittest_key.pem; flatcar/update_engine:src/update_engine/payload_signer_unittest.cc
    /// signs with it.
    static let unittestKeyPEM = """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEpAIBAAKCAQEAx6hqS+Hbc7jN82ek+OBkHJNvlWXktyS2XCuQtGtnHjEV7Ou5
        hHNF96s5wEn8RDtrdLocm0a+SqXXf7KycFRTZxLdDbqWAMUlPXOaPI+PZLWkB7/K
        V7Cdj6vPGbeq7elu+aT/budhzTvq2stYrrAlcr/21tOVDPiWtfCdykh7FCXi6FaY
        HoNy5A6EKQLfLBuJoU/QoCufldmwlFaFDKl+Koos6R1QYJfCNZfgocrW1PIh+8t1
        JIvw6Izo8+fTme7nev7Ol2YZiMWJpRYKx8MgxW2UgTXlRpmQN56pc9LUsnVA8FND
        BN57+gMJj+XmdDmbtMpOsyXfSNEgnuwMPcEcmwIDAQABAoIBABPkwgKhlH4pUcwI
        7bUmlpMKVbnrFyjwbYMtjBOOCA5IEckzi56Y5cXRt8VjGdGqogBVcvg9ykQh1iER
        KxpqLI0+oev2RW/6NMW0uQ+DtmPwfVGQWJb4MBraoZ4MYOmnsrkJKbJhN6t9Zt86
        F7IANxsB6ZRqLJXIRywFt5MqOak+GAnQJ8C8eSQg70NhbEhSOrD8wrD6tfvgIqta
        XxhtlQWUAILIWetnWrJsalMqnreGn7vhc7+iihhMtXh1xNBMTA+gzpov/Cx21iH5
        DM9ppSA6HHDXrMhauryypIRrhjOUWRyDws/kIHgIW4TCbULOlxqsputQeTmdf0ti
        7lpwqAECgYEA7nNKkct3Vs51Ugk4GUPC4NOyYRPNc9UQAfHViB9gSDRacCo9Ax9J
        83hJGqDXlNGzELOnhzMn8jQMyF13eWzOsMozK6Fj3uW7DBvelg5bfgsZDUUO5WUF
        6BYbOheVqf12rIHR9BKBmCfLEKyxbKmw5bnB0uNo7IuBPBNuhPbvkgECgYEA1lo5
        XHWJpQnVl+JzXLHpXBK2nfnFAOtvzlTW+7gteeU12X2HcFASrzp7C1ULVV+i1Kcz
        tDFIA5yiFjEqmSJ/TsO8aqAhL5BXJjylCepQK7XkEOGCR8eQjlt7E4DulAsQbfpt
        k30HVVlIOFqLCWKSW8M3dy/Plodq/Gyq26rntpsCgYAzsNyGdIQfVkxKh2MY3v6c
        /Gdb8g4EwThiI4m1o4+ct3SvggiN57eBRx8Z3ao+QaM+yKNVhLpxH+VxfgmLUhIQ
        cxTarXbX+BcvTc9X2i7tSPyaStEq21aHdFtcoYY5Po/+X3ojHevoDyBPMhCYTMTj
        V/xzegbh2HAglNnNizZuAQKBgQCyOxEpBP5vgS7d/MgJklFEYrb/wjgBnMI5oSek
        5C7EBUdyUUM1qw7uLsUy1gL3eO7uvRxrvvJvNmU76KPP8vRCLNTVH9KYNv+P5qsg
        BHmm7rX1J11pi9Fx3TUIMZOu+0gs+ib0lOhtGjDH0tl680BZFohfDR0hv/XAcCbd
        Qk0q8wKBgQCGbURFFW/5RZUA77MmpY6jsEMw2gJmVtjO5IWZg9VPvLQQPgCr4Ho/
        bS2LIsT6pS+hrLOoz5KI0YueRS0jQYI+WkRqNf5wYNjxPql9632FiDLHO+Xv8PBe
        kHrPHy0GGT1igXScY4eemw4ZC1OSdZfkVn6Ui/JvBHrydJ2LrutMWQ==
        -----END RSA PRIVATE KEY-----

        """

    /// flatcar/update_engine:src/update_engine/payload_signer_unittest.cc: kDataToSign, its SHA-256
    /// (kDataHash) and its PKCS#1 v1.5 / SHA-256 signature with unittest_key.pem (kDataSignature).
    static let dataToSign = "This is some data to sign."
    static let dataHash = bytes(hex: "7a07a644088620a6c1f8d90205630db7fc2ba0a97c9d1d8c01f5786dc511b406")
    static let dataSignature = bytes(hex: """
        9f86258bf3cce3955f4583b266f02acfb7aa52257add9d65e5d6024b37995306
        c2c937362562094f6b22f8b38914981abc30904a43f5ea2ef0a4bac3a7a34470
        d6c489d84571bbee59873dd5e540223d737e2a58938ecb9cf2bb4ac9d22c5242
        b0d11322a478c7c63ef1dc4c7b2d40da58ac4a11963da001f69674f66c0c4969
        4ec17e9f2a42dd156b372e3aa7a76d9113e859defe9907d9340f17b3054cd2c6
        82b73836631d9e21a632eff165e6ed95259b61e0ba86a17ff8a54a321f15208a
        41c5b0d94ada85f3dca0985d1d189d2e42ea6913743c74f76d43b06390db04d5
        05c9731f6cd6fa464e0f33585b0d1b5539b90f4337c0060c299343c743b9ab7d
        """)

    /// The CoreOS/Flatcar developer key pair, embedded in flatcar/mantle:update/signature/signature.go
    /// (the same pair coreos-au-key installs on developer images).
    static let developerKeyPEM = """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEowIBAAKCAQEAzFS5uVJ+pgibcFLD3kbYk02Edj0HXq31ZT/Bva1sLp3Ysv+Q
        Tv/ezjf0gGFfASdgpz6G+zTipS9AIrQr0yFR+tdp1ZsHLGxVwvUoXFftdapqlyj8
        uQcWjjbN7qJsZu0Ett/qo93hQ5nHW7Sv5dRm/ZsDFqk2Uvyaoef4bF9r03wYpZq7
        K3oALZ2smETv+A5600mj1Xg5M52QFU67UHlsEFkZphrGjiqiCdp9AAbAvE7a5rFc
        Jf86YR73QX08K8BX7OMzkn3DsqdnWvLB3l3W6kvIuP+75SrMNeYAcU8PI1+bzLcA
        G3VN3jA78zeKALgynUNH50mxuiiU3DO4DZ+p5QIDAQABAoIBAH7ENbE+9+nkPyMx
        hekaBPVmSz7b3/2iaTNWmckmlY5aSX3LxejtH3rLBjq7rihWGMXJqg6hodcfeGfP
        Zb0H2AeKq1Nlac7qq05XsKGRv3WXs6dyO1BDkH/Minh5dk1o0NrwEm91kXLSLfe8
        IsCwxPCjwgfGFTjpFLpL4zjA/nFmWRyk2eyvs5VYRGKbbC83alUy7LutyRdZfw1b
        nwXldw2m8k/HPbGhaAqPpXTOjckIXZS5Dcp3smrOzwObZ6c3gQzg8upaRmxJVOmk
        cgCFTe0yUB2GMTEE3SUmuWJyZqECoyQtuiu0yT3igH8MZQpjg9NXm0eho/bXjN36
        frH+ikUCgYEA7VdCRcisnYWct29j+Bnaio9yXwwxhfoee53a4LQgjw5RLGUe1mXe
        j56oZ1Mak3Hh55sVQLNXZBuXHQqPsr7KkWXJXedDNFfq1u6by4LeJV0YYiDjjaCM
        T5G4Tcs7xhBWszLMCjhpJCrwHdGk3aa65UQ+angZlxhyziULCjpb5rMCgYEA3GUb
        VkqlVuNkHoogOMwg+h1jUSkwtWvP/z/FOXrKjivuwSgQ+i6PsildI3FL/WQtJxgd
        arB+l0L8TZJ6spFdNXwGmdCLqEcgEBYl11EojOXYLa7oLONI41iRQ3/nBBIqC38P
        Cs6CZQG/ZpKSoOzXE34BwcrOL99MA2oaVpGHuQcCgYA1IIk3Mbph8FyqOwb3rGHd
        Dksdt48GXHyiUy2BixCWtS+6blA+0cLGB0/PAS07wAw/WdmiCAMR55Ml7w1Hh6m0
        bkJrAK9schmhTvwUzBCJ8JLatF37f+qojQfichHJPjMKHd7KkuIGNI5XPmxXKVFA
        rMwD7SpdRh28w1H7UiDsPQKBgGebnFtXohyTr2hv9K/evo32LM9ltsFC2rga6YOZ
        BwoI+yeQx1JleyX9LgzQYTHQ2y0quAGE0S4YznVFLCswDQpssMm0cUL9lMQbNVTg
        kViTYKoxNHKNsqE17Kw3v4l5ZIydAZxJ8qC7TphQxV+jl4RRU1AgIAf/SEO+qH0T
        0yMXAoGBAN+y9QpGnGX6cgwLQQ7IC6MC+3NRed21s+KxHzpyF+Zh/q6NTLUSgp8H
        dBmeF4wAZTY+g/fdB9drYeaSdRs3SZsM7gMEvjspjYgE2rV/5gkncFyGKRAiNOR4
        bsy1Gm/UYLTc8+S3fq/xjg9RCjW9JMwavAwL6oVNNt7nyAXPfvSu
        -----END RSA PRIVATE KEY-----

        """
    static let developerPublicKeyPEM = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzFS5uVJ+pgibcFLD3kbY
        k02Edj0HXq31ZT/Bva1sLp3Ysv+QTv/ezjf0gGFfASdgpz6G+zTipS9AIrQr0yFR
        +tdp1ZsHLGxVwvUoXFftdapqlyj8uQcWjjbN7qJsZu0Ett/qo93hQ5nHW7Sv5dRm
        /ZsDFqk2Uvyaoef4bF9r03wYpZq7K3oALZ2smETv+A5600mj1Xg5M52QFU67UHls
        EFkZphrGjiqiCdp9AAbAvE7a5rFcJf86YR73QX08K8BX7OMzkn3DsqdnWvLB3l3W
        6kvIuP+75SrMNeYAcU8PI1+bzLcAG3VN3jA78zeKALgynUNH50mxuiiU3DO4DZ+p
        5QIDAQAB
        -----END PUBLIC KEY-----

        """

    /// flatcar/mantle:update/signature/signature_test.go: SHA-256 of nothing (testHashStr) and its
    /// signature with the developer key (testSigStr); one such signature takes 256 + 8 bytes in the
    /// Signatures blob (developerSigBytes).
    static let emptyHash = base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    static let emptyHashDeveloperSignature = base64("""
        ouJu+zJ3fHr0m4+O7GxNIa3vuFS1c453OSoA9IMjkZSrAw7yZfnpROQjwn3tQHZB\
        X5uBcmv1y+UEgyWDA5pnpL/gpw1NSB04H/J7atzO4s42ilkmhH6smLLV9OsQQ5/W\
        tmxkVDxFH7GgGyueuxqlTFL4BsBA89/PXZ1gbcn/4fvQc9quq8aAynBSJcAoZca2\
        Eby/N3mSO3sPZLAOzbfwZ23Ph6gJ9QJ6VnFh2xe6NGSwXhgjyHGKiYcajdzF2Iqf\
        7ajqxLe8xVnC2KmRKcY25qs1Atq6e66Cs5PdN7uzNhhLrqBeCoTQjAUnjOA90wt8\
        1rgCGKxZBVYqZPQsuBdSaw==
        """)
    static let developerSignatureBlobSize = 256 + 8

    /// flatcar/mantle:update/generator/testdata_test.go: one block of 0xff (testOnes), the same plus
    /// one byte (testUnaligned), and their SHA-256 (testOnesHashStr, testUnalignedHashStr).
    static let onesBlock = [UInt8](repeating: 0xFF, count: 4096)
    static let onesBlockHash = base64("9HqOw+mv8jGNiWlCKCrU/jfWORyCkU9UpdqKN94TAMY=")
    static let unalignedOnes = [UInt8](repeating: 0xFF, count: 4097)
    static let unalignedOnesHash = base64("6pwJcxe6bTOSepRIAED1jRKLlIMd+xhzoxv1CzBayrE=")

    /// The SHA-256 DigestInfo that PKCS#1 v1.5 puts before the hash: flatcar/scripts:core_sign_update
    /// prepends exactly these 19 bytes for PKCS#11 keys ("MDEw…IA=="), and
    /// coreos/update_engine:src/update_engine/payload_signer.cc kRSA2048SHA256Padding ends with them.
    static let sha256DigestInfo = base64("MDEwDQYJYIZIAWUDBAIBBQAEIA==")

    /// The 256-byte block CoreOS update_engine compared a raw-decrypted signature with
    /// (kRSA2048SHA256Padding ‖ hash): 00 01, 202 × FF, 00, DigestInfo, hash.
    static func coreOSPaddedBlock(_ hash: [UInt8]) -> [UInt8] {
        [0x00, 0x01] + [UInt8](repeating: 0xFF, count: 202) + [0x00] + sha256DigestInfo + hash
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static func base64(_ text: String) -> [UInt8] { [UInt8](Data(base64Encoded: text)!) }
}

/// A scratch directory holding the reference keys as files, as our key types read them.
struct ReferenceKeyFiles {
    let directory: URL
    let unittestKey: URL, unittestPublicKey: URL, developerKey: URL, developerPublicKey: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        unittestKey = directory.appendingPathComponent("unittest_key.pem")
        unittestPublicKey = directory.appendingPathComponent("unittest_key.pub.pem")
        developerKey = directory.appendingPathComponent("developer-v1.key.pem")
        developerPublicKey = directory.appendingPathComponent("developer-v1.pub.pem")
        for (url, text) in [(unittestKey, ReferenceVectors.unittestKeyPEM), (developerKey, ReferenceVectors.developerKeyPEM)] {
            _ = FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        }
        try Data(ReferenceVectors.developerPublicKeyPEM.utf8).write(to: developerPublicKey)
        // update_engine's build derives unittest_key.pub.pem from the private key the same way.
        try Command.run(["openssl", "rsa", "-in", unittestKey.path, "-pubout", "-out", unittestPublicKey.path])
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// What `openssl pkeyutl -verifyrecover` gets back from `signature` with `publicKey`.
    func recover(_ signature: [UInt8], publicKey: URL, options: [String]) throws -> [UInt8] {
        let input = try file("recover-\(UUID().uuidString)", signature)
        return [UInt8](try Command.run(["openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", publicKey.path,
                                        "-in", input.path] + options.flatMap { ["-pkeyopt", $0] }).standardOutput)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite struct ReferenceSigningVectorTests {
    /// flatcar/update_engine:src/update_engine/payload_signer_unittest.cc SimpleTest: the fixed data
    /// signed with unittest_key.pem gives kDataSignature, in a blob whose single entry has version 2.
    @Test func updateEngineSigningVectorGivesThePublishedSignature() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let digest = Array(SHA256.hash(data: Data(ReferenceVectors.dataToSign.utf8)))
        #expect(Array(digest) == ReferenceVectors.dataHash)
        let signature = try PayloadPrivateKey(contentsOf: keys.unittestKey).sign(digest)
        #expect(signature == ReferenceVectors.dataSignature)
        let blob = try Signatures(decoding: Signatures([signature]).encoded()[...])
        #expect(blob.signatures.map(\.version) == [2], "kSignatureMessageCurrentVersion is 2 in Flatcar's payload_signer.cc")
        #expect(blob.signatures.first?.data == ReferenceVectors.dataSignature)
    }

    /// payload_signer_unittest.cc VerifySignatureTest, from the client's side: the published signature
    /// verifies with the test key's public half, and not after any change or with another key.
    @Test func publishedSignatureVerifiesOnlyWithItsKeyAndHash() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let digest = Array(SHA256.hash(data: Data(ReferenceVectors.dataToSign.utf8)))
        let key = try PayloadPublicKey(contentsOf: keys.unittestPublicKey)
        #expect(key.isValid(ReferenceVectors.dataSignature, for: digest))
        var damaged = ReferenceVectors.dataSignature
        damaged[255] ^= 0x01
        #expect(!key.isValid(damaged, for: digest))
        #expect(!key.isValid(ReferenceVectors.dataSignature, for: Array(SHA256.hash(data: Data()))))
        #expect(!(try PayloadPublicKey(contentsOf: keys.developerPublicKey)).isValid(ReferenceVectors.dataSignature, for: digest))
    }

    /// Both client generations accept our signature bytes: Flatcar's EVP_PKEY_verify_recover with
    /// PKCS#1 padding and SHA-256 recovers the bare hash (flatcar/update_engine:src/update_engine/payload_signer.cc
    /// GetRawHashFromSignature); CoreOS's RSA_NO_PADDING decrypt must equal kRSA2048SHA256Padding ‖ hash
    /// byte for byte (coreos/update_engine:src/update_engine/payload_signer.cc).
    @Test func ourSignatureDecodesTheWayOldAndNewClientsCompareIt() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let signature = try PayloadPrivateKey(contentsOf: keys.unittestKey).sign(Array(SHA256.hash(data: Data(ReferenceVectors.dataToSign.utf8))))
        let flatcar = try keys.recover(signature, publicKey: keys.unittestPublicKey, options: ["rsa_padding_mode:pkcs1", "digest:sha256"])
        #expect(flatcar == ReferenceVectors.dataHash)
        let coreOS = try keys.recover(signature, publicKey: keys.unittestPublicKey, options: ["rsa_padding_mode:none"])
        #expect(coreOS == ReferenceVectors.coreOSPaddedBlock(ReferenceVectors.dataHash))
        #expect(coreOS.count == 256)
    }

    /// flatcar/mantle:update/signature/signature_test.go TestSign, TestVerifySignature, TestSignaturesSize:
    /// SHA-256 of nothing signed with the developer key gives testSigStr, in a 264-byte blob.
    @Test func mantleDeveloperKeyVector() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let digest = Array(SHA256.hash(data: Data()))
        #expect(Array(digest) == ReferenceVectors.emptyHash)
        let signature = try PayloadPrivateKey(contentsOf: keys.developerKey).sign(digest)
        #expect(signature == ReferenceVectors.emptyHashDeveloperSignature)
        #expect(try PayloadPublicKey(contentsOf: keys.developerPublicKey).isValid(ReferenceVectors.emptyHashDeveloperSignature, for: digest))
        #expect(Signatures([signature]).encoded().count == ReferenceVectors.developerSignatureBlobSize)
        #expect(Signatures.encodedSize(count: 1, signatureSize: PayloadFormat.signatureSize) == ReferenceVectors.developerSignatureBlobSize)
    }
}

@Suite(.serialized) struct ReferenceGeneratorVectorTests {
    /// mantle's one-block cases (flatcar/mantle:update/generator/full_test.go TestFullUpdateScanOnes,
    /// info_test.go TestOnesInstallInfo, TestUnalignedInstallInfo, TestEmptyInstallInfo): a block of
    /// 0xff becomes one REPLACE_BZ operation over block 0 that bunzip2 turns back into the block, and
    /// the sizes and hashes recorded for the partition and for files are mantle's known answers.
    @Test func mantleOneBlockImageAndFilesGiveTheKnownSizesAndHashes() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let partition = try keys.file("usr.img", ReferenceVectors.onesBlock)
        let output = keys.directory.appendingPathComponent("update.gz")
        _ = try PayloadGenerator(partitionImage: partition,
                                 bootFiles: [(.kernel, ReferenceVectors.unalignedOnes), (.commandLine, [])], signatureCount: 1)
            .write(to: output, signingKeys: [try PayloadPrivateKey(contentsOf: keys.developerKey)])
        let file = try PayloadFile(output)
        let manifest = file.manifest

        #expect(manifest.newPartitionInfo == InstallInfo(size: 4096, hash: ReferenceVectors.onesBlockHash))
        #expect(manifest.procedures.map(\.newInfo) == [InstallInfo(size: 4097, hash: ReferenceVectors.unalignedOnesHash),
                                                       InstallInfo(size: 0, hash: ReferenceVectors.emptyHash)])
        let operation = try #require(manifest.partitionOperations.count == 1 ? manifest.partitionOperations.first : nil)
        #expect(operation.type == .replaceBZ)
        #expect(operation.dstExtents == [Extent(startBlock: 0, numBlocks: 1)])
        let blob = try file.blob(offset: UInt64(operation.dataOffset ?? 0), length: Int(operation.dataLength ?? 0))
        #expect(blob.count < 4096)
        let compressed = try keys.file("op0.bz2", blob)
        #expect([UInt8](try Command.run(["bzip2", "-dc", compressed.path]).standardOutput) == ReferenceVectors.onesBlock,
                "bzip2 itself restores the block, as mantle's bunzip2 check does")

        // Checked as flatcar/mantle:update/signature/signature.go VerifySignature does: the version-2
        // entry is a PKCS#1 v1.5 SHA-256 signature by the developer key over everything before the blob.
        let signedLength = try #require(file.signedLength)
        let signaturesSize = try #require(manifest.signaturesSize)
        #expect(file.fileSize == signedLength + signaturesSize, "VerifySignedPayload: size = metadata + signatures_offset + signatures_size")
        #expect(signaturesSize == UInt64(ReferenceVectors.developerSignatureBlobSize))
        let entries = try Signatures(decoding: try file.blob(offset: manifest.signaturesOffset!, length: Int(signaturesSize))[...])
        let versionTwo = try #require(entries.signatures.first { $0.version == 2 })
        let signed = try keys.file("signed-part", [UInt8](try Data(contentsOf: output).prefix(Int(signedLength))))
        let signatureFile = try keys.file("sig", versionTwo.data)
        let result = try Command.run(["openssl", "dgst", "-sha256", "-verify", keys.developerPublicKey.path,
                                      "-signature", signatureFile.path, signed.path])
        #expect(result.text.contains("Verified OK"))
        #expect(try PayloadVerifier(output).verify(publicKeys: [try PayloadPublicKey(contentsOf: keys.developerPublicKey)]).signatures == 1)
    }

    /// mantle's TestFullUpdateScanUnaligned expects errShortRead for 4097 bytes, and delta_generator
    /// requires the image to be a multiple of 4096 (flatcar/update_engine:src/update_engine/delta_diff_generator.cc).
    @Test func partitionImageThatIsNotWholeBlocksIsRefused() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let partition = try keys.file("usr.img", ReferenceVectors.unalignedOnes)
        #expect(throws: PayloadError.self) {
            try PayloadGenerator(partitionImage: partition, bootFiles: [], signatureCount: 1)
                .write(to: keys.directory.appendingPathComponent("update.gz"))
        }
    }

    /// flatcar/scripts:core_sign_update with the reference key: the digest of the unsigned payload
    /// (HashPayloadForSigning: everything, signature op included, blob excluded) is signed both ways the
    /// script signs, and both give the bytes we insert and clients verify: the PKCS#11 path
    /// (DigestInfo ‖ hash, openssl adds PKCS#1 padding) and the file-key path (the full 256-byte padded
    /// block, `openssl rsautl -raw -sign`).
    @Test func coreSignUpdateSignaturesInsertAndVerify() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let partition = try keys.file("usr.img", ReferenceVectors.onesBlock)
        let output = keys.directory.appendingPathComponent("update.gz")
        let result = try PayloadGenerator(partitionImage: partition, bootFiles: [(.kernel, ReferenceVectors.unalignedOnes)], signatureCount: 1)
            .write(to: output)
        #expect(!result.signed)
        let unsigned = [UInt8](try Data(contentsOf: output))
        let digest = try PayloadVerifier(output).digestToSign()
        #expect(Array(digest) == Array(SHA256.hash(data: unsigned)), "the unsigned file already carries the signature op, so its hash is the signed hash")
        #expect(Array(digest) == result.digestToSign)

        let hsmInput = try keys.file("update.pkcs11-padhash", ReferenceVectors.sha256DigestInfo + Array(digest))
        let hsmSignature = try keys.file("update.sig.1", [])
        try Command.run(["openssl", "pkeyutl", "-sign", "-inkey", keys.unittestKey.path, "-in", hsmInput.path, "-out", hsmSignature.path])
        let rawInput = try keys.file("update.padhash", ReferenceVectors.coreOSPaddedBlock(Array(digest)))
        let rawSignature = try keys.file("update.sig.2", [])
        try Command.run(["openssl", "rsautl", "-raw", "-sign", "-inkey", keys.unittestKey.path, "-in", rawInput.path, "-out", rawSignature.path])
        let signature = [UInt8](try Data(contentsOf: hsmSignature))
        #expect(signature == [UInt8](try Data(contentsOf: rawSignature)))
        #expect(signature == (try PayloadPrivateKey(contentsOf: keys.unittestKey).sign(digest)))

        let publicKey = try PayloadPublicKey(contentsOf: keys.unittestPublicKey)
        try PayloadVerifier.insertSignatures([signature], into: output, publicKeys: [publicKey])
        #expect(try PayloadVerifier(output).verify(publicKeys: [publicKey]).fileSize == UInt64(unsigned.count + ReferenceVectors.developerSignatureBlobSize))
        #expect([UInt8](try Data(contentsOf: output).prefix(unsigned.count)) == unsigned, "signing only appends the blob")
    }
}
