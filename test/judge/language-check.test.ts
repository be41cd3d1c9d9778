import { describe, expect, it } from "vitest";
import { detectLanguage, languageMatchShare } from "../../src/judge/language-check.ts";

describe("response-language check (franc)", () => {
  it.each([
    ["en", "The sky is blue because the air scatters blue light more than red light."],
    ["hi", "आसमान नीला होता है क्योंकि हवा नीली रोशनी को लाल से अधिक बिखेरती है।"],
    ["fr", "Le ciel est bleu parce que l'air diffuse davantage la lumière bleue que la rouge."],
    ["es", "El cielo es azul porque el aire dispersa más la luz azul que la roja."],
    ["ar", "السماء زرقاء لأن الهواء يشتت الضوء الأزرق أكثر من الضوء الأحمر."],
    ["ru", "Небо голубое, потому что воздух рассеивает синий свет сильнее, чем красный."],
  ])("identifies %s", (language, text) => {
    expect(detectLanguage(text)).toBe(language);
  });

  it("leaves out text too short to identify, and counts the share of the rest", () => {
    expect(detectLanguage("ok")).toBeUndefined();
    const share = languageMatchShare([
      { language: "fr", output: "Le ciel est bleu parce que l'air diffuse davantage la lumière bleue." },
      { language: "fr", output: "The sky is blue because the air scatters blue light more than red." },
      { language: "fr", output: "oui" },
    ]);
    expect(share).toEqual({ share: 0.5, identified: 2 });
  });
});
