#!/usr/bin/env bash
# The README's worked example of the profile card: starts `rapport serve` on the installed model
# bundle with a temporary SQLite store, ingests a few weeks of realistic messages from one
# English and one Russian customer through the Python client, writes each card with
# `rapport report` and screenshots it in headless Chromium into docs/card-en.png and
# docs/card-ru.png (the HTML pages too, under $OUT_DIR when set).
#
# Needs: the model bundle (scripts/install-model.sh), .venv with the Python client
# (scripts/setup-python.sh) and chromium (scripts/setup-chromium.sh). Uses target/debug/rapport
# (cargo build) unless RAPPORT_BIN names another; pngquant, where installed, shrinks the PNGs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RAPPORT_BIN:-target/debug/rapport}
[ -x "$BIN" ] || cargo build
command -v chromium >/dev/null || { echo "card-example.sh: run scripts/setup-chromium.sh" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "card-example.sh: run scripts/setup-python.sh" >&2; exit 1; }

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
OUT_DIR=${OUT_DIR:-$TMP}
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STORE="sqlite:$TMP/profiles.db"

"$BIN" serve --listen "127.0.0.1:$PORT" --metrics-listen off --store "$STORE" \
  >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!

.venv/bin/python - "127.0.0.1:$PORT" <<'PY'
import sys, time
from rapport_client import RapportClient, message

english = [
    "Hello, I ordered the standing desk three weeks ago and it still has not shipped. Could you tell me what is going on? You can reach me at olivia.hart@example.com.",
    "Thank you for the quick reply. I understand there were delays, but I need the desk before the end of the month because I start a new job from home.",
    "I checked the tracking number you sent and it shows nothing at all. Is the number correct? I would appreciate a clear answer with a date.",
    "Good morning. The desk arrived today, thank you. Unfortunately one of the legs is scratched and the control panel does not light up.",
    "I have attached photos of the scratch and the panel. I would prefer a replacement part rather than returning the whole desk, which is very heavy.",
    "Please confirm whether the replacement panel is covered by the warranty. I registered the product on your website the day it arrived.",
    "Thanks, the new panel works perfectly. I really appreciate how patiently your colleague walked me through the installation on the phone.",
    "One more question: do you sell a cable tray that fits this model? I would like to keep the cables tidy under the desk.",
    "The monitor arm arrived but the cable tray did not. The packing list says both were in the box, so something must have gone wrong at the warehouse.",
    "I am getting a little frustrated, to be honest. This is the third problem with one order and each time I have to explain everything again.",
    "Thank you for the apology and the discount code. That is a fair gesture and I will use it for the chair I have been looking at.",
    "I went ahead and ordered the chair. Please make sure the delivery company calls me before they come, as I am not always at home in the afternoon.",
    "The chair was delivered this morning and it is wonderful. The courier was polite and called in advance exactly as I asked.",
    "I wanted to leave some feedback: the products are excellent, but communication about delays could be better. A short email would have saved me several calls.",
    "Everything arrived at the new flat, thank you. I am very happy with the whole setup and I have recommended your shop to two colleagues.",
]
russian = [
    "Здравствуйте! Я заказал холодильник две недели назад, но до сих пор нет информации о доставке. Подскажите, пожалуйста, когда его привезут?",
    "Спасибо за ответ. Мне важно получить холодильник до выходных, потому что старый уже не работает, а у нас маленький ребёнок.",
    "Добрый день. Курьер не приехал в назначенное время, и никто не позвонил. Я прождал дома весь день и отпросился ради этого с работы.",
    "Прошу перенести доставку на субботу, с десяти до двух. Напишите мне на ivan.petrov@example.com, когда всё будет согласовано.",
    "Холодильник привезли, спасибо. Но на дверце вмятина, фотографии прикладываю к письму. Упаковка была целой, значит, повредили ещё на складе.",
    "Я бы хотел заменить дверцу, а не возвращать весь холодильник. Это возможно по гарантии? Какие документы для этого нужны?",
    "Благодарю за быстрое решение вопроса. Мастер приехал вовремя, всё аккуратно поменял и даже проверил уплотнитель.",
    "Подскажите, есть ли у вас фильтры для воды к этой модели? Хочу заказать сразу два, чтобы был запас.",
    "Фильтры получил, всё подошло. Спасибо, что учли мою просьбу о звонке перед доставкой.",
    "Хочу оставить отзыв: техника отличная, но о задержках лучше сообщать заранее, а не после звонка клиента.",
    "Добрый вечер. Можно ли оформить рассрочку на стиральную машину из вашего каталога? Интересует срок на шесть месяцев.",
    "Оформил заказ на стиральную машину. Пожалуйста, привезите её вместе с установкой и заберите старую, если это возможно.",
]

client = RapportClient(sys.argv[1], timeout=120)
client.wait_ready(timeout=300)
deadline = time.time() + 600
while client.health() != "SERVING":
    if time.time() > deadline:
        sys.exit("the server did not turn SERVING")
    time.sleep(0.5)
now = int(time.time())

def conversation(prefix, texts, weeks):
    start = now - weeks * 7 * 86400
    step = weeks * 7 * 86400 // len(texts)
    out = []
    for i, text in enumerate(texts):
        at = start + i * step + (i % 5) * 3600 + 9 * 3600
        channel = "email" if i % 3 == 0 else "chat"
        conv = f"{prefix}-{i // 2}"
        out.append(message("Thank you for your message, let me look into it.", id=f"{prefix}-a{i}",
                           channel=channel, role="agent", timestamp=at - 900, conversation_id=conv))
        out.append(message(text, id=f"{prefix}-{i}", channel=channel, role="customer",
                           timestamp=at, conversation_id=conv))
    return out

for customer, prefix, texts, weeks in [("olivia-hart", "en", english, 10), ("ivan-petrov", "ru", russian, 8)]:
    r = client.profiles.ingest_messages(customer, conversation(prefix, texts, weeks))
    print(customer, "accepted", r.accepted)
PY

for c in "olivia-hart en" "ivan-petrov ru"; do
  set -- $c
  "$BIN" report "$1" --store "$STORE" --out "$OUT_DIR/card-$2.html"
  chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$TMP/chromium" --window-size=1000,${CARD_HEIGHT:-2480} \
    --screenshot="$TMP/card-$2.png" "file://$OUT_DIR/card-$2.html" 2>/dev/null
  if command -v pngquant >/dev/null; then
    # A 256-colour palette: the same picture at a third of the bytes.
    pngquant --force --quality 70-95 --output "docs/card-$2.png" "$TMP/card-$2.png"
  else
    cp "$TMP/card-$2.png" "docs/card-$2.png"
  fi
  echo "docs/card-$2.png: $(stat -c %s "docs/card-$2.png") bytes"
done
