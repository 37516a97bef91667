import Testing
@testable import Transcode

/// A preset's video bit rate is meant for its own picture (16:9 at its height, 30 fps): a smaller
/// or slower output gets less in proportion, never more; a bit rate given explicitly is kept.
@Suite struct PresetBitrateTests {
    static func preset(_ preset: WebPreset) -> TranscodeOptions {
        var options = TranscodeOptions()
        options.videoBitrate = preset.videoBitrate
        options.videoBitratePixelRate = preset.pixelRate
        return options
    }

    @Test("720p's 2.5M at its own size, scaled for a 180x320 phone upload at 25 fps, never raised at 60 fps")
    func scalesWithThePixelRate() {
        let options = Self.preset(.p720)
        #expect(WebPreset.p720.pixelRate == 1280 * 720 * 30)
        #expect(options.videoBitrate(width: 1280, height: 720, framesPerSecond: 30) == 2_500_000)
        #expect(options.videoBitrate(width: 180, height: 320, framesPerSecond: 25) == 130_208)
        #expect(options.videoBitrate(width: 1280, height: 720, framesPerSecond: 60) == 2_500_000)
        #expect(options.videoBitrate(width: 1280, height: 720, framesPerSecond: nil) == 2_500_000,
                "an unknown frame rate counts as 30")
    }

    @Test("a tiny output still gets the smallest scaled rate, not next to nothing")
    func hasAFloor() {
        #expect(Self.preset(.p1080).videoBitrate(width: 2, height: 2, framesPerSecond: 1) == TranscodeOptions.smallestScaledBitrate)
    }

    @Test("nonsense in a queued job's options (the largest bit rate, no or a negative pixel rate) neither traps nor raises the rate")
    func nonsenseIsHarmless() {
        var options = TranscodeOptions(videoBitrate: Int.max)
        options.videoBitratePixelRate = 1
        #expect(options.videoBitrate(width: 1920, height: 1080, framesPerSecond: 60) == Int.max)
        options.videoBitratePixelRate = -5
        #expect(options.videoBitrate(width: 1920, height: 1080, framesPerSecond: 60) == Int.max)
        options.videoBitrate = 1_000_000
        options.videoBitratePixelRate = Int.max
        #expect(options.videoBitrate(width: 2, height: 2, framesPerSecond: 1) == TranscodeOptions.smallestScaledBitrate)
    }

    @Test("an explicit bit rate, and constant quality, are left alone")
    func explicitIsKept() {
        #expect(TranscodeOptions(videoBitrate: 600_000).videoBitrate(width: 180, height: 320, framesPerSecond: 25) == 600_000)
        #expect(TranscodeOptions().videoBitrate(width: 180, height: 320, framesPerSecond: 25) == nil)
    }

    @Test("every preset's width is even and 16:9 of its height")
    func presetPictures() {
        for preset in WebPreset.allCases {
            let width = preset.pixelRate / 30 / preset.maxHeight
            #expect(width % 2 == 0 && abs(Double(width) / Double(preset.maxHeight) - 16.0 / 9) < 0.01, "\(preset)")
        }
    }
}
