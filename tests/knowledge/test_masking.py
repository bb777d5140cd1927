"""Personal data is found and replaced by placeholders before text leaves the desk, and
restored for the operator; business numbers (amounts, T-numbers, dates of rules) are not."""

from __future__ import annotations

import pytest

from ushiro.knowledge.drafting.masking import Masker, mask, my_number_valid, unmask

NAMES = ["山田 太郎", "佐藤 花子", "佐藤 一郎", "鈴木 次郎", "髙橋 真一", "Emma Wilson"]


def found(text: str) -> list[tuple[str, str]]:
    return [(label, text[start:end]) for start, end, label in Masker(NAMES).spans(text)]


@pytest.mark.parametrize(("digits", "valid"), [
    ("123456789018", True),
    ("１２３４ ５６７８ ９０１８", True),
    ("123456789012", False),
    ("000000000000", True),  # remainder 0 → check digit 0
    ("12345678901", False),  # 11 digits
    ("1234567890123", False),
])
def test_my_number_check_digit(digits, valid) -> None:
    """The check digit of 総務省令第85号 第5条: weights 6,5,4,3,2,7,6,5,4,3,2 from the left."""
    assert my_number_valid(digits) is valid


POSITIVE = [
    # マイナンバー: a valid check digit, or any 12 digits next to マイナンバー/個人番号
    ("マイナンバーは123456789018です。", [("マイナンバー", "123456789018")]),
    ("個人番号：1234-5678-9018", [("マイナンバー", "1234-5678-9018")]),
    ("番号 1234 5678 9018 を届け出ます", [("マイナンバー", "1234 5678 9018")]),
    ("１２３４５６７８９０１８", [("マイナンバー", "１２３４５６７８９０１８")]),
    ("マイナンバー 123456789012（通知カード記載）", [("マイナンバー", "123456789012")]),
    ("個人番号（１２３４５６７８９０１２）の提出", [("マイナンバー", "１２３４５６７８９０１２")]),
    # 電話番号
    ("携帯は090-1234-5678です", [("電話番号", "090-1234-5678")]),
    ("09012345678に電話ください", [("電話番号", "09012345678")]),
    ("０９０－１２３４－５６７８までご連絡を", [("電話番号", "０９０－１２３４－５６７８")]),
    ("090ー1234ー5678", [("電話番号", "090ー1234ー5678")]),
    ("本社 03-1234-5678", [("電話番号", "03-1234-5678")]),
    ("代表 03(1234)5678", [("電話番号", "03(1234)5678")]),
    ("大阪 (06)1234-5678", [("電話番号", "(06)1234-5678")]),
    ("045-123-4567（横浜）", [("電話番号", "045-123-4567")]),
    ("0466-12-3456", [("電話番号", "0466-12-3456")]),
    ("+81-90-1234-5678", [("電話番号", "+81-90-1234-5678")]),
    ("+81 3 1234 5678", [("電話番号", "+81 3 1234 5678")]),
    ("TEL:0312345678", [("電話番号", "0312345678")]),
    ("TEL03-1234-5678", [("電話番号", "03-1234-5678")]),
    ("050-1234-5678（IP電話）", [("電話番号", "050-1234-5678")]),
    ("フリーダイヤル 0120-123-456", [("電話番号", "0120-123-456")]),
    # メール
    ("taro.yamada@example.co.jp まで", [("メール", "taro.yamada@example.co.jp")]),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", [("メール", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ")]),
    ("宛先:info+desk@sakura-seiki.jp", [("メール", "info+desk@sakura-seiki.jp")]),
    # 口座番号 (and the account holder as a name)
    ("口座番号 1234567", [("口座番号", "1234567")]),
    ("口座番号：１２３４５６７", [("口座番号", "１２３４５６７")]),
    ("普通預金 7654321", [("口座番号", "7654321")]),
    ("みずほ銀行 渋谷支店 普通 7654321", [("口座番号", "7654321")]),
    ("当座 1234567", [("口座番号", "1234567")]),
    ("三井住友銀行 新宿支店 (普)1234567", [("口座番号", "1234567")]),
    ("ゆうちょ銀行 記号12345 番号12345678", [("口座番号", "12345 番号12345678")]),
    ("ゆうちょ 12345-12345678", [("口座番号", "12345-12345678")]),
    ("口座名義：ヤマダ タロウ", [("氏名", "ヤマダ タロウ")]),
    ("振込先 さくら銀行 本店 普通 1234567 名義 ｻｸﾗ ﾊﾅｺ",
     [("口座番号", "1234567"), ("氏名", "ｻｸﾗ ﾊﾅｺ")]),
    # 住所
    ("〒100-0001 東京都千代田区千代田1-1", [("住所", "〒100-0001 東京都千代田区千代田1-1")]),
    ("〒１００－０００１", [("住所", "〒１００－０００１")]),
    ("郵便番号 060-0001", [("住所", "郵便番号 060-0001")]),
    ("住所は東京都港区芝公園4-2-8です", [("住所", "東京都港区芝公園4-2-8")]),
    ("大阪府大阪市北区梅田1丁目1番1号", [("住所", "大阪府大阪市北区梅田1丁目1番1号")]),
    ("横浜市中区山下町1丁目2番3号 さくらビル5階",
     [("住所", "横浜市中区山下町1丁目2番3号 さくらビル5階")]),
    ("千代田区永田町二丁目3番1号", [("住所", "千代田区永田町二丁目3番1号")]),
    ("札幌市中央区北1条西2丁目", [("住所", "札幌市中央区北1条西2丁目")]),
    ("さいたま市浦和区高砂3-15-1 グランドハイツ101号室",
     [("住所", "さいたま市浦和区高砂3-15-1 グランドハイツ101号室")]),
    # 生年月日
    ("生年月日：1985年4月1日", [("生年月日", "1985年4月1日")]),
    ("誕生日は昭和60年4月1日です", [("生年月日", "昭和60年4月1日")]),
    ("1990/12/31生まれ", [("生年月日", "1990/12/31")]),
    ("生年月日 S60.4.1", [("生年月日", "S60.4.1")]),
    ("生年月日 平成元年1月8日", [("生年月日", "平成元年1月8日")]),
    ("生年月日：１９８５年４月１日", [("生年月日", "１９８５年４月１日")]),
    ("令和2年5月5日生", [("生年月日", "令和2年5月5日")]),
    ("生年月日 昭和六十年四月一日", [("生年月日", "昭和六十年四月一日")]),
    # 氏名: the tenant's users
    ("山田 太郎です", [("氏名", "山田 太郎")]),
    ("山田太郎と申します", [("氏名", "山田太郎")]),
    ("山田　太郎", [("氏名", "山田　太郎")]),
    ("山田さんに確認します", [("氏名", "山田")]),
    ("山田様", [("氏名", "山田")]),
    ("総務部の鈴木さん", [("氏名", "鈴木")]),
    ("経理課鈴木様", [("氏名", "鈴木")]),
    ("高橋真一", [("氏名", "高橋真一")]),
    ("髙橋さん", [("氏名", "髙橋")]),
    ("佐藤 花子の申請", [("氏名", "佐藤 花子")]),
    ("emma wilson wrote", [("氏名", "emma wilson")]),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE, ids=[t for t, _ in POSITIVE])
def test_personal_data_is_found(text, expected) -> None:
    """GIVEN text with one kind of personal data, written the way people write it
    WHEN it is scanned
    THEN exactly that value is found with its label, and unmasking restores the text."""
    assert found(text) == expected
    masked = mask(text, names=NAMES)
    assert unmask(masked.text, masked.mapping) == text
    for _, value in expected:
        assert value not in masked.text


NEGATIVE = [
    "123456789012",  # 12 digits, check digit fails, no context
    "請求金額 123456789018円",  # an amount, even with a valid check digit
    "合計 ¥123456789018",
    "注文番号 123456789018",
    "登録番号 T1234567890123",  # 適格請求書発行事業者登録番号
    "T123456789018",  # letters before digits: a code, not a マイナンバー
    "法人番号 1234567890123",
    "1234-5678-9018-3456",  # longer number (a card), not 12 digits
    "2024-04-01",
    "09:00-18:00",
    "受付番号 0123456789",  # 10 bare digits without a telephone cue
    "0-12-3456",
    "ISBN 978-4-12-345678-9",
    "12,000円",
    "@山田 メンション",
    "a@b",
    "社員番号 1234567",  # 7 digits without a bank cue
    "普通は1234567円かかります",
    "普通郵便で送付しました。伝票番号1234567",
    "名義変更の手続き",
    "東京23区及び政令指定都市は12,000円",
    "東京都千代田区の事業所",  # a city, not a home address
    "第3条の2（航空機の利用）",
    "市区町村の窓口",
    "2丁目の店",
    "2024年4月1日から施行する",
    "支払期日 2024/05/31",
    "令和6年4月1日改定",
    "入社日 2020年4月1日",
    "佐藤さん",  # two users are called 佐藤: which one is unknown, so not a name match
    "小山田さん",  # another family name that ends in 山田
    "山田町",  # a family name without an honorific
    "田中 一郎さん",  # not a user of the tenant
    "第十二条　会社は、雇入れの日から６か月間継続勤務した従業員に１０日の年次有給休暇を与える。",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_business_data_is_left_alone(text) -> None:
    """GIVEN text with amounts, registration numbers, rule dates or other non-personal data
    WHEN it is scanned
    THEN nothing is masked."""
    assert found(text) == []
    assert mask(text, names=NAMES).text == text


def test_same_value_same_placeholder() -> None:
    """The same person or number written differently gets one placeholder; another value
    gets the next number."""
    text = ("山田 太郎です。山田太郎の携帯は090-1234-5678（09012345678、+81 90 1234 5678）、"
            "自宅は03-1111-2222です。鈴木 次郎にも共有します。")
    masked = mask(text, names=NAMES)
    assert masked.text == ("[氏名1]です。[氏名1]の携帯は[電話番号1]（[電話番号1]、[電話番号1]）、"
                           "自宅は[電話番号2]です。[氏名2]にも共有します。")
    assert masked.mapping == {"[氏名1]": "山田 太郎", "[電話番号1]": "090-1234-5678",
                              "[電話番号2]": "03-1111-2222", "[氏名2]": "鈴木 次郎"}


def test_one_masker_numbers_several_texts_consistently() -> None:
    masker = Masker(NAMES)
    first = masker.mask("担当: 山田 太郎 (090-1234-5678)")
    second = masker.mask("山田さんと鈴木さん、連絡は090-1234-5678へ")
    assert first == "担当: [氏名1] ([電話番号1])"
    assert second == "[氏名2]さんと[氏名3]さん、連絡は[電話番号1]へ"
    assert unmask(first + second, masker.mapping) == (
        "担当: 山田 太郎 (090-1234-5678)山田さんと鈴木さん、連絡は090-1234-5678へ")


def test_a_whole_mail() -> None:
    """GIVEN a request mail with a signature and every kind of personal data
    WHEN masked
    THEN no personal value is left, the question itself is intact, and it round-trips."""
    mail = ("総務部 ご担当者様\n\nお疲れ様です。営業部の山田 太郎です。\n"
            "マイナンバーの提出について質問です。私の個人番号は 1234 5678 9018 です。\n"
            "給与振込口座も変わりました：みずほ銀行 渋谷支店 普通 7654321 口座名義 ヤマダ タロウ\n"
            "引っ越し先は〒150-0002 東京都渋谷区渋谷2-21-1 です。生年月日は1985年4月1日です。\n"
            "有給は何日もらえますか？\n\n--\n山田 太郎 / 携帯 090-1234-5678 / taro.yamada@example.co.jp")
    masked = mask(mail, names=NAMES)
    for value in ["山田", "1234 5678 9018", "7654321", "ヤマダ タロウ", "150-0002", "渋谷2-21-1",
                  "1985年4月1日", "090-1234-5678", "taro.yamada@example.co.jp"]:
        assert value not in masked.text
    for kept in ["有給は何日もらえますか？", "みずほ銀行 渋谷支店 普通", "マイナンバーの提出について"]:
        assert kept in masked.text
    assert set(masked.mapping) == {"[氏名1]", "[氏名2]", "[マイナンバー1]", "[口座番号1]",
                                   "[住所1]", "[生年月日1]", "[電話番号1]", "[メール1]"}
    assert unmask(masked.text, masked.mapping) == mail


@pytest.mark.parametrize(("model_output", "restored"), [
    ("[氏名1]様", "山田 太郎様"),
    ("［氏名１］様", "山田 太郎様"),  # a model that writes full-width brackets and digits
    ("[ 氏名1 ]様", "山田 太郎様"),
    ("[氏名9]様", "[氏名9]様"),  # not in the mapping: left as written
    ("[1] 就業規則", "[1] 就業規則"),  # a citation marker is not a placeholder
])
def test_unmask_tolerates_how_models_write_placeholders(model_output, restored) -> None:
    mapping = mask("山田 太郎", names=NAMES).mapping
    assert unmask(model_output, mapping) == restored


def test_without_names_only_patterns_are_masked() -> None:
    masked = mask("山田 太郎 090-1234-5678", names=[])
    assert masked.text == "山田 太郎 [電話番号1]"
