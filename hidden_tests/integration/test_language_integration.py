"""Language track integration: modules 01-08 and 10-13 working together in the student's whole package.

Text -> token ids (10) -> embeddings (11) -> causal attention (12) -> GPT blocks (13), trained with
autograd (06), Adam (07) and clipping (08), fed by the DataLoader (05). The vision module (09) is
not needed and not imported.
"""
import numpy as np
import pytest

from spec.support import run_fresh_python, values
from tinytorch import Adam, DataLoader, Tensor, TensorDataset, enable_autograd
from tinytorch.core.tokenization import CharTokenizer
from tinytorch.core.training import check_gradient_flow, clip_grad_norm
from tinytorch.core.transformer import GPT

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def train_on_sequence(model, ids, steps, lr=1e-2):
    """Teach the model to predict ids[:, 1:] from ids[:, :-1]; returns the last loss."""
    optimizer = Adam(model.parameters(), lr=lr)
    loss = None
    for _ in range(steps):
        optimizer.zero_grad()
        _, loss = model(ids[:, :-1], ids[:, 1:])
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
    return float(loss.item())


@pytest.mark.points(3)
def test_two_layer_gpt_memorises_a_short_sequence_and_replays_it_greedily():
    sequence = np.random.default_rng(0).integers(0, 12, size=(1, 20))
    model = GPT(vocab_size=12, embed_dim=32, num_heads=2, num_layers=2, max_seq_len=24, seed=0)
    final_loss = train_on_sequence(model, sequence, steps=150)
    assert final_loss < 0.05, f"a 2-layer GPT should memorise 20 tokens; loss is still {final_loss:.3f}"
    replay = model.generate(sequence[:, :1], sequence.shape[1] - 1, temperature=0)
    np.testing.assert_array_equal(replay, sequence)


@pytest.mark.points(2)
def test_text_round_trip_through_the_tokenizer_and_a_trained_gpt():
    text = "the quick brown fox jumps."
    tokenizer = CharTokenizer(text)
    ids = np.array([tokenizer.encode(text)], dtype=np.int64)
    assert tokenizer.decode(ids[0].tolist()) == text
    model = GPT(vocab_size=tokenizer.vocab_size, embed_dim=32, num_heads=2, num_layers=2, max_seq_len=32, seed=1)
    train_on_sequence(model, ids, steps=150)
    generated = model.generate(ids[:, :1], ids.shape[1] - 1, temperature=0)
    assert tokenizer.decode(generated[0].tolist()) == text


@pytest.mark.points(2)
def test_gradients_reach_every_gpt_parameter():
    model = GPT(vocab_size=10, embed_dim=8, num_heads=2, num_layers=2, max_seq_len=6, seed=3)
    rng = np.random.default_rng(3)
    idx, targets = rng.integers(0, 10, size=(4, 6)), rng.integers(0, 10, size=(4, 6))
    _, loss = model(idx, targets)
    loss.backward()
    check_gradient_flow(model)
    named = dict(model.named_parameters())
    assert len(named) == 2 + 2 * (2 + 8 + 2 + 4) + 2 + 2, "embeddings, 2 blocks of 16 tensors, final norm, head"
    for name, parameter in named.items():
        grad = values(parameter.grad)
        assert grad.shape == parameter.shape, name
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0, f"{name} received an all-zero gradient"
    norms = [p for p in model.parameters() if values(p).ndim == 1 and np.array_equal(values(p), np.ones(8))]
    assert len(norms) == 5, "five LayerNorm scales (two per block and the final one) start at ones"
    assert all(np.abs(values(p.grad)).sum() > 0 for p in norms)


def test_dataloader_batches_of_text_windows_lower_the_loss():
    text = "abcabdabcabd " * 6
    tokenizer = CharTokenizer(text)
    ids = np.array(tokenizer.encode(text), dtype=np.int64)
    windows = np.stack([ids[i:i + 9] for i in range(len(ids) - 9)])
    loader = DataLoader(TensorDataset(windows[:, :-1], windows[:, 1:]), batch_size=16, shuffle=True, seed=0)
    model = GPT(vocab_size=tokenizer.vocab_size, embed_dim=16, num_heads=2, num_layers=1, max_seq_len=8, seed=2)
    optimizer = Adam(model.parameters(), lr=1e-2)

    def as_ids(batch):
        return values(batch) if isinstance(batch, Tensor) else np.asarray(batch)

    losses = []
    for _ in range(6):
        for xb, yb in loader:
            optimizer.zero_grad()
            _, loss = model(as_ids(xb), as_ids(yb))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3]), f"loss went from {losses[:3]} to {losses[-3:]}"


def test_gpt_forward_and_generation_work_before_autograd_is_enabled():
    completed = run_fresh_python(
        "import numpy as np\n"
        "from tinytorch import GPT, is_autograd_enabled\n"
        "assert not is_autograd_enabled()\n"
        "model = GPT(vocab_size=11, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=6, seed=0)\n"
        "idx = np.array([[1, 2, 3]])\n"
        "print(model(idx).shape, model.generate(idx, 4, temperature=0).shape)\n"
    )
    assert completed.returncode == 0, f"GPT fails before enable_autograd():\n{completed.stderr[-1500:]}"
    assert completed.stdout.strip() == "(1, 3, 11) (1, 7)"
