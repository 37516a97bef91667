import Testing
@testable import vqueue

@Suite struct TimeSpanTests {
    @Test(arguments: [("500ms", 0.5), ("5s", 5), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("1.5s", 1.5), ("7d", 604_800)])
    func readsTheDocumentedUnits(text: String, seconds: Double) throws {
        #expect(try #require(TimeSpan(argument: text)).seconds == seconds)
    }

    @Test(arguments: ["", "5", "5x", "s", "-5s", "0s", "5 s s", "ms5"])
    func refusesAnythingElse(text: String) {
        #expect(TimeSpan(argument: text) == nil)
    }
}

@Suite struct BitRateTests {
    @Test(arguments: [("200000", 200_000), ("200k", 200_000), ("1.5M", 1_500_000), ("96K", 96_000), ("2m", 2_000_000)])
    func readsPlainAndSuffixedRates(text: String, bits: Int) throws {
        #expect(try #require(BitRate(argument: text)).bitsPerSecond == bits)
    }

    @Test(arguments: ["", "k", "12q", "-200k", "0", "10", "abc"])
    func refusesNonsense(text: String) {
        #expect(BitRate(argument: text) == nil)
    }
}

@Suite struct TranscodeOptionGroupTests {
    @Test func presetSetsSizeAndBitratesButExplicitOptionsWin() throws {
        let group = try TranscodeOptionGroup.parse(["--preset", "360p", "--audio-bitrate", "64k"])
        let options = group.options
        #expect(options.maxHeight == 360)
        #expect(options.videoBitrate == 800_000)
        #expect(options.audioBitrate == 64_000)
    }

    @Test func crfOverridesAPresetBitrate() throws {
        let options = try TranscodeOptionGroup.parse(["--preset", "720p", "--crf", "20"]).options
        #expect(options.videoBitrate == nil)
        #expect(options.crf == 20)
    }

    @Test(arguments: [["--crf", "60"], ["-b", "1M", "--crf", "20"], ["--x264-preset", "warp"], ["--preset", "4k"],
                      ["--threads", "-1"], ["--max-height", "1"]])
    func invalidCombinationsAreUsageErrors(arguments: [String]) {
        #expect(throws: (any Error).self) { try TranscodeOptionGroup.parse(arguments) }
    }
}
